# apt-lib.sh: a private apt for another architecture; source it.
#
#   private_apt DIR ARCH COMPONENTS   writes an apt configuration, sources list,
#                                     state and cache under DIR for Debian
#                                     $SUITE (bookworm), its updates and
#                                     security, architecture ARCH, components
#                                     COMPONENTS ("main non-free-firmware"),
#                                     exports APT_CONFIG and runs apt-get update
#
# The host's apt configuration and dpkg architectures are not touched;
# signatures are checked with Debian's archive keyring. Downloads land in
# DIR/cache/archives.
private_apt() {
  local apt=$1 arch=$2 components=$3
  local suite=${SUITE:-bookworm} mirror=${MIRROR:-http://deb.debian.org/debian}
  local security=${SECURITY:-http://deb.debian.org/debian-security}
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$keyring" ] || { echo "$keyring is missing: run make deps (debian-archive-keyring)" >&2; return 1; }
  mkdir -p "$apt"/etc/apt.conf.d "$apt"/etc/preferences.d "$apt"/etc/sources.list.d \
    "$apt"/state/lists/partial "$apt"/cache/archives/partial
  : > "$apt/state/status"
  {
    echo "deb [signed-by=$keyring] $mirror $suite $components"
    echo "deb [signed-by=$keyring] $mirror $suite-updates $components"
    echo "deb [signed-by=$keyring] $security $suite-security $components"
  } > "$apt/etc/sources.list"
  cat > "$apt/apt.conf" <<CONF
Dir::Etc "$apt/etc";
Dir::Etc::Parts "$apt/etc/apt.conf.d";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
Dir::Etc::SourceParts "$apt/etc/sources.list.d";
Dir::State "$apt/state";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Install-Recommends "false";
APT::Sandbox::User "root";
Acquire::Languages "none";
CONF
  export APT_CONFIG=$apt/apt.conf
  apt-get update -qq --error-on=any
}
