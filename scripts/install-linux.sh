#!/usr/bin/env bash
# Installs flinkdrop as a systemd service. Safe to run again: every step
# checks what is already there.
set -euo pipefail

SERVICE_NAME=flinkdrop
PREFIX_BIN=/usr/local/bin/flinkdrop
CONF_DIR=/etc/flinkdrop
CONF_FILE=$CONF_DIR/config.yaml
ENV_FILE=$CONF_DIR/$SERVICE_NAME.env
DEFAULT_STATE_DIR=/var/lib/flinkdrop
DEFAULT_SCANS=/srv/scans

usage() {
	cat <<EOF
Usage: sudo scripts/install-linux.sh [options]

Installs flinkdrop as a systemd service running as the system user
'flinkdrop' (no login shell, no home):
  - the binary goes to $PREFIX_BIN;
  - $CONF_DIR holds config.yaml (0640 root:flinkdrop) and $SERVICE_NAME.env
    (optional KEY=value lines for \${NAME} in the config, e.g. secrets);
  - the state_dir ($DEFAULT_STATE_DIR by default, 0750) and every inbox,
    outbox, archive and failed folder named in the config (or
    $DEFAULT_SCANS/{inbox,reports,archive,failed} without one) are created
    and made writable for the service user;
  - "flinkdrop service install --config $CONF_FILE" registers the unit,
    "flinkdrop check" runs as the service user, then the service starts.
Running it again upgrades the binary, reinstalls the unit and restarts.

Options:
  --binary FILE   flinkdrop binary to install (default: ./flinkdrop, else
                  dist/flinkdrop-linux-<arch> next to this script)
  --config FILE   config to install as $CONF_FILE; an existing one is kept
                  unless --replace-config is given
  --replace-config  overwrite an existing $CONF_FILE with --config FILE
  --user NAME     service user (default: flinkdrop)
  --no-start      install everything but do not run check or start
  -h, --help      show this help
EOF
}

log() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() {
	printf 'install: %s\n' "$*" >&2
	exit 1
}

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary=""
config=""
replace_config=no
user=flinkdrop
start=yes

while (($# > 0)); do
	case "$1" in
	--binary)
		binary="${2:?--binary needs a file}"
		shift 2
		;;
	--config)
		config="${2:?--config needs a file}"
		shift 2
		;;
	--replace-config)
		replace_config=yes
		shift
		;;
	--user)
		user="${2:?--user needs a name}"
		shift 2
		;;
	--no-start)
		start=no
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf 'install: unknown argument: %s (see --help)\n' "$1" >&2
		exit 2
		;;
	esac
done

[[ "$(id -u)" == 0 ]] || die "run as root (sudo $0 $*)"
[[ -d /run/systemd/system ]] || die "systemd is not running on this machine: run 'flinkdrop run --config FILE' under your init system instead"
command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed"

# --- the binary -------------------------------------------------------------
if [[ -z "$binary" ]]; then
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) die "unsupported machine $(uname -m): pass --binary FILE" ;;
	esac
	for candidate in ./flinkdrop "$script_dir/../dist/flinkdrop-linux-$arch"; do
		if [[ -f "$candidate" ]]; then
			binary="$candidate"
			break
		fi
	done
	[[ -n "$binary" ]] || die "no flinkdrop binary found: build one with scripts/build.sh or pass --binary FILE"
fi
[[ -f "$binary" ]] || die "binary $binary: no such file (pass --binary FILE)"
"$binary" version >/dev/null 2>&1 || die "binary $binary does not run here (wrong architecture?)"

# --- the service user -------------------------------------------------------
nologin="$(command -v nologin || true)"
for shell in "$nologin" /usr/sbin/nologin /sbin/nologin /bin/false; do
	if [[ -n "$shell" && -x "$shell" ]]; then
		nologin="$shell"
		break
	fi
done
if ! getent group "$user" >/dev/null; then
	groupadd --system "$user"
	log "created group $user"
fi
if ! getent passwd "$user" >/dev/null; then
	useradd --system --gid "$user" --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "flinkdrop service" "$user"
	log "created system user $user"
fi
group="$(id -gn "$user")"

# --- binary, config ---------------------------------------------------------
install -d -m 0755 "$(dirname "$PREFIX_BIN")"
tmp_bin="$(mktemp "${PREFIX_BIN}.XXXXXX")"
trap 'rm -f "$tmp_bin"' EXIT
install -m 0755 -o root -g root "$binary" "$tmp_bin"
mv -f "$tmp_bin" "$PREFIX_BIN" # atomic: a running daemon keeps its old file
log "installed $PREFIX_BIN ($("$PREFIX_BIN" version))"

install -d -m 0750 -o root -g "$group" "$CONF_DIR"
if [[ -n "$config" ]]; then
	[[ -f "$config" ]] || die "config $config: no such file"
	if [[ ! -e "$CONF_FILE" || "$replace_config" == yes ]]; then
		install -m 0640 -o root -g "$group" "$config" "$CONF_FILE"
		log "installed $CONF_FILE"
	elif ! cmp -s "$config" "$CONF_FILE"; then
		warn "kept the existing $CONF_FILE (differs from $config; pass --replace-config to overwrite)"
	fi
fi
if [[ ! -e "$CONF_FILE" ]]; then
	example="$script_dir/../config.example.yaml"
	[[ -f "$example" ]] || die "no config: pass --config FILE"
	install -m 0640 -o root -g "$group" "$example" "$CONF_FILE"
	warn "installed the example config as $CONF_FILE: edit it (credentials, folders), then run this script again"
	start=no
fi
if [[ ! -e "$ENV_FILE" ]]; then
	install -m 0640 -o root -g "$group" /dev/null "$ENV_FILE"
	printf '%s\n' "# KEY=value lines for \${KEY} in config.yaml, read by systemd (EnvironmentFile=)." \
		"# FLINKS_CLIENT_SECRET=..." "# FLINKS_API_KEY=..." >"$ENV_FILE"
	log "created $ENV_FILE"
fi
# Certificates, keys and secret files kept beside the config must be
# readable by the service user and nobody else.
find "$CONF_DIR" -maxdepth 1 -type f -exec chown root:"$group" {} + -exec chmod u+rw,g+r,g-w,o-rwx {} +

# --- folders ----------------------------------------------------------------
# config_folders prints "kind<TAB>path" for state_dir, each inbox's path,
# outbox, archive and failed, and log.file. It reads the plain block YAML of
# config.example.yaml; flow-style or anchored YAML is not understood.
config_folders() {
	awk '
	/^[A-Za-z_][A-Za-z0-9_]*:/ { section = $0; sub(/:.*/, "", section) }
	{
		line = $0
		sub(/[[:space:]]+#.*$/, "", line)
		sub(/^#.*$/, "", line)
		sub(/[[:space:]]+$/, "", line)
	}
	section == "state_dir" && match(line, /^state_dir:[[:space:]]*/) {
		print "state_dir\t" substr(line, RLENGTH + 1)
	}
	section == "inboxes" && match(line, /^[[:space:]]*(-[[:space:]]+)?(path|outbox|archive|failed):[[:space:]]*/) {
		key = line
		sub(/^[[:space:]]*(-[[:space:]]+)?/, "", key)
		sub(/:.*/, "", key)
		print key "\t" substr(line, RLENGTH + 1)
	}
	section == "log" && match(line, /^[[:space:]]+file:[[:space:]]*/) {
		print "log_file\t" substr(line, RLENGTH + 1)
	}
	' "$1"
}

# unquote strips one pair of surrounding YAML quotes.
unquote() {
	local v="$1"
	if [[ "$v" =~ ^\"(.*)\"$ || "$v" =~ ^\'(.*)\'$ ]]; then
		v="${BASH_REMATCH[1]}"
	fi
	printf '%s' "$v"
}

# ensure_dir makes dir exist and be writable by the service user: created
# 2770 user:group (scanner accounts join the group to drop files), or, if it
# exists and the user cannot write it, given an ACL entry.
ensure_dir() {
	local dir="$1" mode="$2"
	if [[ ! -d "$dir" ]]; then
		install -d -m "$mode" -o "$user" -g "$group" "$dir"
		log "created $dir ($mode $user:$group)"
		return
	fi
	if runuser -u "$user" -- test -w "$dir" -a -x "$dir"; then
		return
	fi
	if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$user:rwx" -m "d:u:$user:rwx" "$dir"; then
		log "granted $user rwx on $dir (ACL)"
	else
		warn "$user cannot write $dir: give it write access (chown $user:$group $dir, or an ACL)"
	fi
}

conf_dir_of_config="$(dirname "$CONF_FILE")"
state_dir=""
log_dir=""
inboxes=0
folders=()
while IFS=$'\t' read -r kind value; do
	value="$(unquote "$value")"
	[[ -n "$value" ]] || continue
	if [[ "$value" == *"\${"* ]]; then
		warn "$kind '$value' uses an environment variable: create that folder yourself"
		continue
	fi
	[[ "$value" == /* ]] || value="$conf_dir_of_config/$value" # relative to the config's folder
	case "$kind" in
	state_dir) state_dir="$value" ;;
	log_file) log_dir="$(dirname "$value")" ;;
	path)
		inboxes=$((inboxes + 1))
		folders+=("$value")
		;;
	*) folders+=("$value") ;;
	esac
done < <(config_folders "$CONF_FILE")

if ((inboxes == 0)); then
	warn "no inbox found in $CONF_FILE; creating the default folders under $DEFAULT_SCANS"
	folders+=("$DEFAULT_SCANS/inbox" "$DEFAULT_SCANS/reports" "$DEFAULT_SCANS/archive" "$DEFAULT_SCANS/failed")
fi
ensure_dir "${state_dir:-$DEFAULT_STATE_DIR}" 0750
if [[ -n "$log_dir" ]]; then
	ensure_dir "$log_dir" 0750
fi
for dir in "${folders[@]}"; do
	ensure_dir "$dir" 2770
done

# --- the service ------------------------------------------------------------
unit="/etc/systemd/system/$SERVICE_NAME.service"
if [[ -e "$unit" ]]; then
	log "reinstalling the existing $SERVICE_NAME service"
	"$PREFIX_BIN" service stop --config "$CONF_FILE" || warn "could not stop $SERVICE_NAME (continuing)"
	"$PREFIX_BIN" service uninstall --config "$CONF_FILE"
fi
install_args=(service install --config "$CONF_FILE")
if "$PREFIX_BIN" service install --help 2>/dev/null | grep -q -- '--user'; then
	install_args+=(--user "$user")
fi
"$PREFIX_BIN" "${install_args[@]}"
if ! grep -q "^User=$user\$" "$unit"; then
	# This flinkdrop cannot record the user itself: a drop-in does.
	install -d -m 0755 "$unit.d"
	printf '[Service]\nUser=%s\nGroup=%s\n' "$user" "$group" >"$unit.d/user.conf"
	systemctl daemon-reload
	log "set User=$user in $unit.d/user.conf"
fi
log "installed the $SERVICE_NAME service ($unit)"

if [[ "$start" != yes ]]; then
	log "not started: run 'sudo systemctl start $SERVICE_NAME' when the config is ready"
	exit 0
fi

log "checking the config as $user"
# The same variables the service gets from $ENV_FILE (read here as shell).
if ! (
	set -a
	# shellcheck source=/dev/null
	. "$ENV_FILE"
	set +a
	runuser -u "$user" -- "$PREFIX_BIN" check --config "$CONF_FILE"
); then
	die "flinkdrop check failed: fix what it says, then run this script again (the service is installed but not started)"
fi

"$PREFIX_BIN" service start --config "$CONF_FILE"
log "started: journalctl -u $SERVICE_NAME -f shows its log; 'flinkdrop status --config $CONF_FILE' its state"
log "scanner accounts that drop files need group $group: usermod -aG $group ACCOUNT"
