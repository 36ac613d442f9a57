#!/bin/sh
# Registers the namespace idp uses and idp's search attributes (IDP_SEARCH_ATTRIBUTES, all of
# type Keyword; IDP_BOOL_SEARCH_ATTRIBUTES, all of type Bool). Safe to run on every `docker compose up`: what exists is left as it is.
# Run by the temporal-setup service (temporalio/admin-tools), once the server is healthy.
set -eu

ns=${TEMPORAL_NAMESPACE:-default}
until temporal operator cluster health >/dev/null 2>&1; do
  echo "temporal-setup: waiting for $TEMPORAL_ADDRESS"
  sleep 2
done

if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  temporal operator namespace create --namespace "$ns" --retention "${NAMESPACE_RETENTION:-720h}"
fi

for name in $IDP_SEARCH_ATTRIBUTES; do
  if temporal operator search-attribute list --namespace "$ns" | grep -qw "$name"; then
    echo "temporal-setup: search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword
  fi
done
for name in ${IDP_BOOL_SEARCH_ATTRIBUTES:-}; do
  if temporal operator search-attribute list --namespace "$ns" | grep -qw "$name"; then
    echo "temporal-setup: search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type Bool
  fi
done
echo "temporal-setup: namespace $ns with search attributes $IDP_SEARCH_ATTRIBUTES ${IDP_BOOL_SEARCH_ATTRIBUTES:-}"
