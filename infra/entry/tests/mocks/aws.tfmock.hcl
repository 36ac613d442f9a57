# Values for computed attributes that other resources (or the provider's own validation) need in
# a realistic shape: the provider rejects a random string where it expects an ARN.

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock"
  }
}

mock_resource "aws_eks_cluster" {
  defaults = {
    arn      = "arn:aws:eks:us-west-2:123456789012:cluster/mock"
    endpoint = "https://MOCK0123456789.gr7.us-west-2.eks.amazonaws.com"
    certificate_authority = [
      { data = "TU9DSy1DQS1DRVJUSUZJQ0FURQ==" },
    ]
  }
}

mock_resource "aws_eks_node_group" {
  defaults = {
    arn = "arn:aws:eks:us-west-2:123456789012:nodegroup/mock/mock/00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_eks_access_entry" {
  defaults = {
    access_entry_arn = "arn:aws:eks:us-west-2:123456789012:access-entry/mock/role/123456789012/mock/00000000-0000-0000-0000-000000000000"
  }
}

mock_resource "aws_eks_addon" {
  defaults = {
    arn           = "arn:aws:eks:us-west-2:123456789012:addon/mock/mock/00000000-0000-0000-0000-000000000000"
    addon_version = "v1.3.7-eksbuild.2"
  }
}

mock_resource "aws_eks_pod_identity_association" {
  defaults = {
    association_arn = "arn:aws:eks:us-west-2:123456789012:podidentityassociation/mock/a-0123456789abcdef0"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-west-2:123456789012:log-group:mock"
  }
}

mock_resource "aws_eip" {
  defaults = {
    public_ip = "198.51.100.10"
  }
}
