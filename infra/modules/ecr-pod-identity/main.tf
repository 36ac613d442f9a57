locals {
  ecr_account     = coalesce(var.ecr_account_id, "*")
  namespaces      = sort(distinct([for sa in values(var.service_accounts) : sa.namespace]))
  service_account = sort(distinct([for sa in values(var.service_accounts) : sa.service_account]))
}

# Pods get this role through EKS Pod Identity. The session tags EKS adds when it assumes the
# role limit it to this cluster and to the services' namespaces and service accounts, so another
# cluster or namespace in the account cannot borrow it.
resource "aws_iam_role" "ecr_read" {
  name        = "${var.cluster_name}-ecr-read"
  description = "ECR read access for the services running in ${var.cluster_name} (EKS Pod Identity)"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EksPodIdentity"
      Effect    = "Allow"
      Principal = { Service = "pods.eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
      Condition = {
        StringEquals = {
          "aws:RequestTag/eks-cluster-name"           = var.cluster_name
          "aws:RequestTag/kubernetes-namespace"       = local.namespaces
          "aws:RequestTag/kubernetes-service-account" = local.service_account
        }
      }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "ecr_read" {
  name = "ecr-read"
  role = aws_iam_role.ecr_read.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Login"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid    = "ReadRepositories"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:DescribeImages",
          "ecr:DescribeRepositories",
          "ecr:GetDownloadUrlForLayer",
          "ecr:ListImages",
        ]
        Resource = "arn:aws:ecr:*:${local.ecr_account}:repository/*"
      },
    ]
  })
}

resource "aws_eks_pod_identity_association" "service" {
  for_each = { for name, sa in var.service_accounts : name => sa if var.enable_associations }

  cluster_name    = var.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.ecr_read.arn

  tags = var.tags
}
