#!/usr/bin/env bash
# idsync against live directories, on one machine: a throwaway Samba AD domain controller and
# the Graph emulator on loopback, walking a cloud-first tenant through plan -> apply -> plan ->
# an out-of-band change -> drift. Needs root (the DC gets its own loopback address) and the
# Debian packages samba samba-ad-dc ldap-utils (scripts/test installs them).
#
#   examples/demo/run.sh            # everything is removed at the end
#   KEEP=1 examples/demo/run.sh     # keep the DC, the emulator and the folder to explore
#   PROFILE=debug examples/demo/run.sh   # use debug builds (scripts/test runs it this way)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\n$ %s\n' "$*"; "$@"; }

profile=${PROFILE:-release}
step "Building idsync and the Graph emulator ($profile)"
flag=$([[ $profile == release ]] && echo --release || true)
cargo build $flag --quiet -p idsync --bin idsync
cargo build $flag --quiet -p graph-emulator --bin graph-emulator
target=${CARGO_TARGET_DIR:-$root/target}
idsync=$target/$profile/idsync
emulator=$target/$profile/graph-emulator

work=$(mktemp -d /tmp/idsync-demo.XXXXXX)
emu_pid=""
cleanup() {
	if [[ -n "${KEEP:-}" ]]; then
		echo "Kept: $work (stop with: $root/scripts/samba-dc stop --dir $work/dc; kill $emu_pid)"
		return
	fi
	[[ -n "$emu_pid" ]] && kill "$emu_pid" 2>/dev/null || true
	"$root/scripts/samba-dc" stop --dir "$work/dc" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

step "Starting a Samba AD domain controller (LDAPS with its own test CA)"
# --watch-pid: the DC goes with this script even if it is killed before its EXIT trap runs.
"$root/scripts/samba-dc" start --dir "$work/dc" --watch-pid $$ >"$work/dc.env"
set -a
# shellcheck disable=SC1091
. "$work/dc.env"
set +a
echo "DC: $IDSYNC_DC_URL ($IDSYNC_DC_BASE_DN)"
LDAPTLS_CACERT=$IDSYNC_DC_CA ldapadd -H "$IDSYNC_DC_URL" -x -D "$IDSYNC_DC_ADMIN_UPN" -w "$IDSYNC_DC_PASSWORD" >/dev/null <<LDIF
dn: OU=Office365,$IDSYNC_DC_BASE_DN
objectClass: organizationalUnit

dn: OU=Cloud,OU=Office365,$IDSYNC_DC_BASE_DN
objectClass: organizationalUnit
LDIF
echo "AD is empty: the tenant is cloud-first."

step "Starting the Graph emulator with a cloud-first tenant"
"$emulator" --listen 127.0.0.1:0 --tenant-file examples/demo/tenant.json >"$work/emulator.out" 2>"$work/emulator.err" &
emu_pid=$!
for _ in $(seq 50); do
	[[ -s "$work/emulator.out" ]] && break
	sleep 0.1
done
graph_url=$(head -n1 "$work/emulator.out")
echo "Graph: $graph_url"

step "The desired state"
mkdir -p "$work/desired-state"
cp "$IDSYNC_DC_CA" "$work/desired-state/ca.pem"
cat >"$work/desired-state/idsync.yaml" <<YAML
# yaml-language-server: \$schema=$root/schema/idsync.schema.json
version: 1
directories:
  ad:
    url: $IDSYNC_DC_URL
    base_dn: "$IDSYNC_DC_BASE_DN"
    bind_dn: $IDSYNC_DC_ADMIN_UPN
    password: { env: IDSYNC_AD_PASSWORD }
    ca_file: ca.pem
  entra:
    tenant_id: 11111111-1111-4111-8111-111111111111
    client_id: 22222222-2222-4222-8222-222222222222
    client_secret: { env: IDSYNC_ENTRA_SECRET }
    login_url: $graph_url
    graph_url: $graph_url
scope:
  ous: [ "OU=Office365,$IDSYNC_DC_BASE_DN" ]
attributes:
  displayName: ad
  jobTitle: ad
  department: ad
  usageLocation: entra
provision:
  ad:
    enabled: true
    ou: "OU=Cloud,OU=Office365,$IDSYNC_DC_BASE_DN"
    sam_account_name: "{mailNickname}"
    initial_state: enabled_random_password
protect:
  - upn: breakglass@example.com
YAML
cat "$work/desired-state/idsync.yaml"
export IDSYNC_AD_PASSWORD=$IDSYNC_DC_PASSWORD
export IDSYNC_ENTRA_SECRET=graph-emulator-secret
cd "$work"
# The desired state lives in git, as it would for a team.
git init -q && git add desired-state && git -c user.name=demo -c user.email=demo@example.com commit -qm "desired state"

step "1. Plan: what would change (nothing is written)"
run "$idsync" plan --color always

step "2. Apply: create the AD accounts, write the anchors back, link the cloud users"
run "$idsync" apply --auto-approve --color always

step "3. Plan again: nothing left to do (the pipeline tags what it applied)"
run "$idsync" plan --detailed-exitcode --color always
git tag idsync-applied

step "4. Someone changes a job title in the Entra portal (Graph PATCH), outside idsync"
token=$(curl -sS "$graph_url/11111111-1111-4111-8111-111111111111/oauth2/v2.0/token" \
	-d grant_type=client_credentials -d client_id=22222222-2222-4222-8222-222222222222 \
	-d client_secret="$IDSYNC_ENTRA_SECRET" -d scope=https://graph.microsoft.com/.default |
	sed -E 's/.*"access_token":"([^"]+)".*/\1/')
curl -sS -X PATCH "$graph_url/v1.0/users/nina.patel@example.com" -H "Authorization: Bearer $token" \
	-H "Content-Type: application/json" -d '{"jobTitle": "Chief Analyst"}'
echo "PATCH /v1.0/users/nina.patel@example.com {\"jobTitle\": \"Chief Analyst\"}"

step "5. Drift: the scheduled job notices (exit 2), names the difference and which side moved"
set +e
run "$idsync" drift --baseline idsync-applied --color always
code=$?
set -e
echo "exit code: $code (0 none, 2 drift, 1 error)"
[[ $code == 2 ]] || { echo "expected drift" >&2; exit 1; }

step "6. Apply puts AD's value back (AD is authoritative for jobTitle); drift is clean again"
run "$idsync" apply --auto-approve --color always
run "$idsync" drift --baseline idsync-applied --color always
