output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in the order of availability_zones."
  value       = [for az in local.public_zones : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in the order of availability_zones. Known only once their egress routes exist, so nodes placed in them can reach the internet from their first boot."
  value       = [for az in local.private_zones : aws_subnet.private[az].id]

  depends_on = [aws_route.private_nat, aws_route_table_association.private]
}

output "public_subnets" {
  description = "Public subnets by availability zone: ID, CIDR block and tags."
  value = {
    for az, s in aws_subnet.public : az => {
      id                      = s.id
      cidr_block              = s.cidr_block
      map_public_ip_on_launch = s.map_public_ip_on_launch
      tags                    = s.tags
    }
  }
}

output "private_subnets" {
  description = "Private subnets by availability zone: ID, CIDR block and tags."
  value = {
    for az, s in aws_subnet.private : az => {
      id                      = s.id
      cidr_block              = s.cidr_block
      map_public_ip_on_launch = s.map_public_ip_on_launch
      tags                    = s.tags
    }
  }
}

output "public_route_table_id" {
  description = "Route table of the public subnets (default route to the internet gateway); empty when enable_public_route_table is false."
  value       = one(aws_route_table.public[*].id) == null ? "" : one(aws_route_table.public[*].id)
}

output "internet_route" {
  description = "Whether the public route table has its default route to the internet gateway (false when enable_public_route_table is false)."
  value       = length(aws_route.public_internet) == 1
}

output "private_route_table_ids" {
  description = "Route table ID of each private subnet, keyed by availability zone (empty without NAT gateways: the private subnets then use the VPC's main route table)."
  value       = { for az, rt in aws_route_table.private : az => rt.id }
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs keyed by the availability zone they sit in (empty when enable_nat_gateway is false)."
  value       = { for az, nat in aws_nat_gateway.this : az => nat.id }
}

output "private_egress" {
  description = "For each private subnet's zone, the NAT gateway its default route goes through (empty without NAT gateways)."
  value       = { for az, route in aws_route.private_nat : az => route.nat_gateway_id }
}

output "nat_public_ips" {
  description = "Public addresses the private subnets reach the internet from (allow-list these elsewhere)."
  value       = [for az in local.nat_zones : aws_eip.nat[az].public_ip]
}

output "route_table_association_count" {
  description = "Number of explicit subnet-to-route-table associations."
  value       = length(aws_route_table_association.public) + length(aws_route_table_association.private)
}

output "subnet_route_tables" {
  description = "Route table ID each subnet is explicitly associated with, keyed by subnet ID (empty when enable_route_table_associations is false: every subnet is then on the VPC's main route table)."
  value = merge(
    { for az, a in aws_route_table_association.public : aws_subnet.public[az].id => a.route_table_id },
    { for az, a in aws_route_table_association.private : aws_subnet.private[az].id => a.route_table_id },
  )
}
