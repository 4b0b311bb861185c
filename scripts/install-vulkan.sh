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

sources=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > "$sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "install-vulkan: added $sources"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 vulkan-tools
echo "install-vulkan: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
