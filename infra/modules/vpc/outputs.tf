output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in the order of availability_zones."
  value       = [for az in local.public_zones : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in the order of availability_zones."
  value       = [for az in local.private_zones : aws_subnet.private[az].id]
}

output "private_route_table_ids" {
  description = "Route table ID of each private subnet, keyed by availability zone."
  value       = { for az, rt in aws_route_table.private : az => rt.id }
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs keyed by the availability zone they sit in (empty when enable_nat_gateway is false)."
  value       = { for az, nat in aws_nat_gateway.this : az => nat.id }
}

output "nat_public_ips" {
  description = "Public addresses the private subnets reach the internet from (allow-list these elsewhere)."
  value       = [for az in local.nat_zones : aws_eip.nat[az].public_ip]
}
