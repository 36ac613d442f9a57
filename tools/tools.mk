# Pinned binaries for the local stack (kube control plane, kwok, Argo CD), each built from its
# own module under tools/ so the product's go.mod stays lean. Include from the top Makefile,
# which defines BIN (absolute), GO and exports GOBIN.
#
# Each binary is a file target that depends on its module's go.mod: built only when missing or
# when the pin in go.mod changes. go build fetches modules itself, so a cold module cache works.
# The pins live only in the go.mod files; the version strings passed by -ldflags are read
# from them.
#
# Before building, each recipe asks tools/reuse.sh for a binary already on PATH that reports
# the pinned version; when there is one, ./bin gets a symlink to it and nothing is built.

TOOLS_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BIN ?= $(abspath $(TOOLS_DIR)/../bin)
GO ?= go

# Static, VCS-free, stripped builds, as the upstream release builds are (CGO_ENABLED=0, -s -w:
# no DWARF, which also makes linking these large binaries several seconds faster each).
TOOLS_GOBUILD = CGO_ENABLED=0 $(GO) build -buildvcs=false
TOOLS_STRIP := -s -w
TOOLS_BUILD_DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
TOOLS_REUSE := $(TOOLS_DIR)/reuse.sh

# --- Kubernetes control plane: tools/kubernetes ----------------------------------------------
KUBE_MOD := $(TOOLS_DIR)/kubernetes/go.mod
KUBE_VERSION = $(shell sed -n 's|^require k8s.io/kubernetes \(v[0-9][0-9.]*\)$$|\1|p' $(KUBE_MOD))
KUBE_SEMVER = $(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))
# component-base/version feeds the binaries' --version and /version; client-go's feeds the
# user agent. Both have the same variables.
KUBE_LDFLAGS = $(TOOLS_STRIP) $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(KUBE_VERSION) \
	-X $(p).gitMajor=$(word 1,$(KUBE_SEMVER)) \
	-X $(p).gitMinor=$(word 2,$(KUBE_SEMVER)) \
	-X $(p).gitTreeState=clean \
	-X $(p).buildDate=$(TOOLS_BUILD_DATE))
KUBE_BINARIES := kube-apiserver kube-controller-manager kube-scheduler

$(addprefix $(BIN)/,$(KUBE_BINARIES)): $(BIN)/%: $(KUBE_MOD)
	@test -n "$(KUBE_VERSION)" || { echo "no 'require k8s.io/kubernetes vX.Y.Z' line in $(KUBE_MOD)"; exit 1; }
	@mkdir -p $(BIN)
	$(TOOLS_REUSE) $* $(KUBE_VERSION) $@ || { cd $(TOOLS_DIR)/kubernetes && $(TOOLS_GOBUILD) -ldflags '$(strip $(KUBE_LDFLAGS))' -o $@ k8s.io/kubernetes/cmd/$*; }

# --- kwok: tools/kwok --------------------------------------------------------------------------
KWOK_MOD := $(TOOLS_DIR)/kwok/go.mod
KWOK_VERSION = $(shell sed -n 's|^require sigs.k8s.io/kwok \(v[0-9][0-9.]*\)$$|\1|p' $(KWOK_MOD))

$(BIN)/kwok: $(KWOK_MOD)
	@test -n "$(KWOK_VERSION)" || { echo "no 'require sigs.k8s.io/kwok vX.Y.Z' line in $(KWOK_MOD)"; exit 1; }
	@mkdir -p $(BIN)
	$(TOOLS_REUSE) kwok $(KWOK_VERSION) $@ || { cd $(TOOLS_DIR)/kwok && $(TOOLS_GOBUILD) -ldflags '$(TOOLS_STRIP)' -o $@ sigs.k8s.io/kwok/cmd/kwok; }

# --- Argo CD: tools/argocd ---------------------------------------------------------------------
# One multi-call binary; the component is chosen by the basename of argv[0], hence the symlinks.
ARGOCD_MOD := $(TOOLS_DIR)/argocd/go.mod
ARGOCD_VERSION = $(shell sed -n 's|^require github.com/argoproj/argo-cd/v2 v\([0-9][0-9.]*\)$$|\1|p' $(ARGOCD_MOD))
ARGOCD_KUBECTL_VERSION = $(shell sed -n 's|^[[:space:]]*k8s.io/client-go => k8s.io/client-go \(v[0-9.]*\)$$|\1|p' $(ARGOCD_MOD))
ARGOCD_LDFLAGS = $(TOOLS_STRIP) \
	-X github.com/argoproj/argo-cd/v2/common.version=$(ARGOCD_VERSION) \
	-X github.com/argoproj/argo-cd/v2/common.buildDate=$(TOOLS_BUILD_DATE) \
	-X github.com/argoproj/argo-cd/v2/common.gitTreeState=clean \
	-X github.com/argoproj/argo-cd/v2/common.kubectlVersion=$(ARGOCD_KUBECTL_VERSION)
ARGOCD_LINKS := argocd-application-controller argocd-repo-server argocd-server argocd-git-ask-pass

$(BIN)/argocd: $(ARGOCD_MOD)
	@test -n "$(ARGOCD_VERSION)" || { echo "no 'require github.com/argoproj/argo-cd/v2 vX.Y.Z' line in $(ARGOCD_MOD)"; exit 1; }
	@mkdir -p $(BIN)
	$(TOOLS_REUSE) argocd $(ARGOCD_VERSION) $@ || { cd $(TOOLS_DIR)/argocd && $(TOOLS_GOBUILD) -ldflags '$(strip $(ARGOCD_LDFLAGS))' -o $@ github.com/argoproj/argo-cd/v2/cmd; }

$(addprefix $(BIN)/,$(ARGOCD_LINKS)): $(BIN)/argocd
	ln -sfn argocd $@

# --- all of them ---------------------------------------------------------------------------------
KUBE_TOOLS := $(addprefix $(BIN)/,$(KUBE_BINARIES) kwok argocd $(ARGOCD_LINKS))

.PHONY: kube-tools
kube-tools: $(KUBE_TOOLS) ## pinned kube-apiserver, controller-manager, scheduler, kwok, Argo CD
