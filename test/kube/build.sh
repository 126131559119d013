#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the Kubernetes e2e tests run
# (kube-apiserver, kube-controller-manager), kubectl (the tests apply YAML as a user does) and helm, from their published Go
# modules, into a cache outside the clone. Only what is missing is built.
#
#   bash test/kube/build.sh            # prints the cache directory on the last line
#   BOWLINE_KUBE_CACHE=DIR bash test/kube/build.sh
#
# Nothing of Kubernetes' source is committed: go.mod.in pins k8s.io/kubernetes and
# the staging modules it names as v0.0.0 are replaced here by their published
# versions (v0.MINOR.PATCH), which is how Kubernetes publishes them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
KUBE_VERSION="$(awk '/^kube_version=/{sub(/^kube_version=/,"");print}' "$here/versions")"
HELM_VERSION="$(awk '/^helm_version=/{sub(/^helm_version=/,"");print}' "$here/versions")"
cache="${BOWLINE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bowline/kube}/$KUBE_VERSION"
mkdir -p "$cache"
# One build at a time per cache (a second run waits, then finds the binaries there).
exec 9>"$cache/.lock"
flock 9
need=()
for b in kube-apiserver kube-controller-manager kubectl helm; do
  [ -x "$cache/$b" ] || need+=("$b")
done
if [ ${#need[@]} -eq 0 ]; then echo "$cache"; exit 0; fi

work="$cache/.build"
rm -rf "$work"; mkdir -p "$work"
staging="v0.${KUBE_VERSION#v1.}"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0

build_kube() {
  local mod
  mkdir -p "$work/kube" && cd "$work/kube"
  cat > go.mod <<GOMOD
module bowline.test/kube
go 1.26
GOMOD
  mod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | awk -F'"' '/"GoMod"/{print $4}')"
  {
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo "replace ("
    grep -E '^\s*k8s.io/[a-z-]+ v0\.0\.0(\s|$)' "$mod" | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}' | sort -u
    echo ")"
  } >> go.mod
  printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubectl/pkg/cmd"\n)\n' > tools.go
  go mod tidy >/dev/null
  for b in "$@"; do
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" -o "$cache/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$cache/$b.tmp" "$cache/$b"
  done
}

build_helm() {
  mkdir -p "$work/helm" && cd "$work/helm"
  printf 'module bowline.test/helm\ngo 1.26\n' > go.mod
  printf 'package tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n' > tools.go
  go get "helm.sh/helm/v3@$HELM_VERSION" >/dev/null 2>&1
  go mod tidy >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$cache/helm.tmp" helm.sh/helm/v3/cmd/helm
  mv "$cache/helm.tmp" "$cache/helm"
}

kube=()
for b in "${need[@]}"; do [ "$b" = helm ] || kube+=("$b"); done
[ ${#kube[@]} -eq 0 ] || ( build_kube "${kube[@]}" )
for b in "${need[@]}"; do [ "$b" != helm ] || ( build_helm ); done
rm -rf "$work"
echo "$cache"
