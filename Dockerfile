# syntax=docker/dockerfile:1
#
# idp's worker image (the default, last stage) and, as target `emulator`, the kumo AWS emulator
# that docker-compose.yaml's `emulator` profile runs.
#
#   docker build -t idp-worker .
#   docker build --target emulator -t idp-kumo .
#
# Base images are pinned by digest (multi-arch index digests of the tags named beside them).
# They were read from public Dockerfiles pinning the same tags (the project's code search,
# September 2026), not pulled: no container engine or registry is reachable where `make test`
# runs, so tools/shipcheck checks that every FROM is pinned by digest, not that the digest is
# still served. Bump tag and digest together (Renovate or Dependabot do that).
#
# Terraform providers: the image carries a filesystem mirror of exactly the providers infra/entry
# requires (hashicorp/aws 5.100.0), made at build time by `terraform providers mirror`, which
# verifies each package against HashiCorp's signed checksums. IDP_TF_PROVIDER_MIRROR points idp
# at it, so the worker installs providers only from the mirror: no registry access at run time,
# the same bytes in every environment, and a bump of the pin in infra/entry/versions.tf needs a
# new image (the build fails if the registry does not serve that version).

# --- Go: worker and starter -----------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS builder
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY activities ./activities
COPY workflows ./workflows
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/ ./cmd/worker ./cmd/starter

# --- kumo, the AWS emulator: tools/kumo, whose go.sum checks every dependency of cmd/kumo ----
FROM builder AS kumo-builder
ARG TARGETOS TARGETARCH
COPY tools/kumo ./tools/kumo
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd tools/kumo && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/kumo github.com/sivchari/kumo/cmd/kumo

# --- terraform: the binary for the target platform ------------------------------------------
FROM hashicorp/terraform:1.11.4@sha256:5820b87995595425074f881500a037b0ccd41158d0d9b44d78f5f120612f2d3d AS terraform

# --- terraform providers: a filesystem mirror for the target platform ------------------------
FROM --platform=$BUILDPLATFORM hashicorp/terraform:1.11.4@sha256:5820b87995595425074f881500a037b0ccd41158d0d9b44d78f5f120612f2d3d AS providers
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY infra ./infra
# init records infra/entry's local modules (mirror reads the whole configuration); no backend.
RUN terraform -chdir=infra/entry init -backend=false -input=false \
    && terraform -chdir=infra/entry providers mirror -platform=${TARGETOS}_${TARGETARCH} /opt/tf-plugins

# --- emulator: `docker build --target emulator` ----------------------------------------------
FROM debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251 AS emulator
RUN groupadd --system --gid 10002 kumo \
    && useradd --system --uid 10002 --gid kumo --home-dir /data --create-home --shell /usr/sbin/nologin kumo
COPY --from=kumo-builder /out/kumo /usr/local/bin/kumo
ENV KUMO_DATA_DIR=/data
USER 10002:10002
EXPOSE 4566
# No curl in the image: bash opens a TCP connection to the port kumo serves.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=12 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/4566"]
ENTRYPOINT ["/usr/local/bin/kumo"]
CMD ["--host", "0.0.0.0", "--port", "4566"]

# --- the worker (default target) -------------------------------------------------------------
FROM debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251 AS worker
# git: terraform fetches git module sources with it; ca-certificates: AWS, GitHub, Temporal.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client tzdata \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 idp \
    && useradd --system --uid 10001 --gid idp --home-dir /home/idp --create-home --shell /usr/sbin/nologin idp \
    && install -d -o idp -g idp /home/idp/.cache
COPY --from=terraform /bin/terraform /usr/local/bin/terraform
COPY --from=providers /opt/tf-plugins /opt/tf-plugins
COPY --from=builder /out/worker /out/starter /usr/local/bin/
# /home/idp/.cache belongs to idp, so a volume mounted there (checkouts, terraform working
# directories) starts writable. IDP_CONFIG: mount idp.yaml there (compose and the Helm chart
# do). IDP_HEALTH_ADDR turns the health endpoints on for the HEALTHCHECK below.
ENV IDP_CONFIG=/etc/idp/idp.yaml \
    IDP_TF_PROVIDER_MIRROR=/opt/tf-plugins \
    IDP_HEALTH_ADDR=:8081
USER 10001:10001
WORKDIR /home/idp
EXPOSE 8081
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/worker", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/worker"]
