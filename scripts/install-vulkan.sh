#!/usr/bin/env bash
# A Vulkan device for onnxruntime's WebGPU provider (Dawn), so tests and CI run the
# real WebGPU path on Mesa's software driver (lavapipe).
#
# Mesa 22 (plain bookworm) lacks a Vulkan feature Dawn needs ("Failed to get a
# WebGPU adapter"); Mesa 25 from bookworm-backports works. Idempotent: does nothing
# when Mesa >= 25's Vulkan drivers are installed. A hardware GPU's own ICD
# (e.g. NVIDIA's) is left alone; lavapipe sits beside it and `auto` never picks it.
set -euo pipefail

MIN_MESA=25
installed=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [[ -n "$installed" ]] && dpkg --compare-versions "$installed" ge "$MIN_MESA"; then
  echo "install-vulkan: mesa-vulkan-drivers $installed already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-vulkan: needs root to install mesa-vulkan-drivers >= $MIN_MESA from bookworm-backports (have: ${installed:-none})" >&2
  exit 1
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [[ "$codename" != bookworm ]]; then
  echo "install-vulkan: written for Debian bookworm, found '${codename:-unknown}'; install Mesa >= $MIN_MESA's Vulkan drivers (lavapipe) by hand" >&2
  exit 1
fi

# The Debian mirror this machine's own apt sources use for plain bookworm (deb822 *.sources or one-line
# sources.list entries), so backports comes from the same place; no host name is written into the repo.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    # One stanza per blank-line-separated record: print its first URI when its Suites list bookworm itself.
    awk 'BEGIN { RS = "" } {
      uri = ""; hit = 0
      n = split($0, lines, "\n")
      for (i = 1; i <= n; i++) {
        if (lines[i] ~ /^URIs:/) { split(lines[i], u, /[ \t]+/); uri = u[2] }
        if (lines[i] ~ /^Suites:/) { m = split(lines[i], s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] == "bookworm") hit = 1 }
      }
      if (hit && uri != "") { print uri; exit }
    }' "$f"
  done
  # One-line format: deb [options] URI bookworm components
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e "$f" ]] || continue
    sed -E 's/\[[^]]*\][[:space:]]*//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2 }'
  done
}

sources=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(debian_mirror | head -n 1 || true)
  if [[ -z "$mirror" ]]; then
    echo "install-vulkan: no apt source for bookworm found in /etc/apt/sources.list{,.d}; add bookworm-backports by hand" >&2
    exit 1
  fi
  cat > "$sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "install-vulkan: added $sources (bookworm-backports from $mirror, the mirror this machine's sources use)"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 vulkan-tools
echo "install-vulkan: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
