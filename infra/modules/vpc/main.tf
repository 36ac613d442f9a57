locals {
  # Subnets, route tables and NAT gateways are keyed by availability zone, so adding a zone
  # never renumbers (and so never replaces) the resources of the others. A zone without a CIDR
  # is left out here and reported by the precondition on the VPC.
  public_cidrs  = { for i, az in var.availability_zones : az => var.public_subnet_cidrs[i] if i < length(var.public_subnet_cidrs) }
  private_cidrs = { for i, az in var.availability_zones : az => var.private_subnet_cidrs[i] if i < length(var.private_subnet_cidrs) }
  public_zones  = [for az in var.availability_zones : az if contains(keys(local.public_cidrs), az)]
  private_zones = [for az in var.availability_zones : az if contains(keys(local.private_cidrs), az)]

  # NAT gateways sit in public subnets: one in the first zone, or one in every zone.
  nat_zones = var.enable_nat_gateway ? (var.single_nat_gateway ? slice(local.public_zones, 0, min(1, length(local.public_zones))) : local.public_zones) : []

  # The zone of the NAT gateway each private subnet's default route goes through.
  nat_zone_of        = { for az in local.private_zones : az => (var.single_nat_gateway ? var.availability_zones[0] : az) }
  private_nat_routes = { for az, nat_az in local.nat_zone_of : az => nat_az if contains(local.nat_zones, nat_az) }

  cluster_tag = { "kubernetes.io/cluster/${var.cluster_name}" = "shared" }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }

  lifecycle {
    precondition {
      condition     = length(var.public_subnet_cidrs) == length(var.availability_zones) && length(var.private_subnet_cidrs) == length(var.availability_zones)
      error_message = "public_subnet_cidrs and private_subnet_cidrs need one entry per availability zone."
    }
  }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = { Name = var.name }
}

resource "aws_subnet" "public" {
  for_each = local.public_cidrs

  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = each.value
  map_public_ip_on_launch = true

  tags = merge(local.cluster_tag, {
    Name                     = "${var.name}-public-${each.key}"
    "kubernetes.io/role/elb" = "1"
  })
}

resource "aws_subnet" "private" {
  for_each = local.private_cidrs

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(local.cluster_tag, {
    Name                              = "${var.name}-private-${each.key}"
    "kubernetes.io/role/internal-elb" = "1"
  })
}

# Without DeleteRoute and DeleteRouteTable in an emulator an env with this table cannot be
# destroyed; enable_public_route_table = false leaves it (and its route) out there.
resource "aws_route_table" "public" {
  count = var.enable_public_route_table ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-public" }
}

resource "aws_route" "public_internet" {
  count = var.enable_public_route_table ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

# Explicit associations, keyed by zone like the subnets. The provider reads one back through
# DescribeRouteTables filtered by its association ID and needs exactly one route table in the
# answer; enable_route_table_associations = false leaves them out for an emulator that ignores
# the filter (the subnets then stay on the VPC's main route table).
resource "aws_route_table_association" "public" {
  for_each = var.enable_route_table_associations && var.enable_public_route_table ? aws_subnet.public : {}

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  for_each = toset(local.nat_zones)

  domain = "vpc"

  tags = { Name = "${var.name}-nat-${each.key}" }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_zones)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id

  tags = { Name = "${var.name}-nat-${each.key}" }

  depends_on = [aws_internet_gateway.this]
}

# One route table per private subnet, so a zone can route through its own NAT gateway. They
# exist only to carry the NAT routes: without NAT gateways the private subnets stay with the
# VPC's main route table, which holds the same local route and nothing else.
resource "aws_route_table" "private" {
  for_each = { for az, cidr in local.private_cidrs : az => cidr if var.enable_nat_gateway }

  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-private-${each.key}" }
}

resource "aws_route" "private_nat" {
  for_each = local.private_nat_routes

  route_table_id         = aws_route_table.private[each.key].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[each.value].id
}

resource "aws_route_table_association" "private" {
  for_each = var.enable_route_table_associations ? aws_route_table.private : {}

  subnet_id      = aws_subnet.private[each.key].id
  route_table_id = each.value.id
}
