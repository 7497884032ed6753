#!/usr/bin/env bash
# Provision a machine (Ubuntu 24.04 LTS, e.g. the Vagrant VM) with Asterisk and dialfunnel wired
# together. Runs as root; safe to run again (`vagrant provision`): it reinstalls dialfunnel from the
# working tree, keeps the generated secrets and adds each #include line once.
#
#   DIALFUNNEL_SRC   the dialfunnel working tree (default /vagrant, Vagrant's synced folder)
#   DIALFUNNEL_DEMO  1 (default): load the demo company into an empty database; 0: do not
#
# What it does:
#   1. apt-get install asterisk and what dialfunnel needs (Python venv, PDF and audio tools)
#   2. a system user `dialfunnel` (in group asterisk: it reads recordings and faxes)
#   3. dialfunnel from the working tree into the venv /opt/dialfunnel/.venv
#   4. /etc/dialfunnel/dialfunnel.toml with a generated AMI secret and web secret key, and
#      /etc/dialfunnel/gunicorn.conf.py (the web's gunicorn settings) from deploy/
#   5. dialplan/*.conf into /etc/asterisk with their #include lines; manager.conf (AMI on loopback
#      only) with the same AMI secret; generated passwords for the agent phones
#   6. the database (migrated; demo data), systemd units, and a check that all of it is up
set -euo pipefail

SRC=${DIALFUNNEL_SRC:-/vagrant}
DEMO=${DIALFUNNEL_DEMO:-1}
VENV=/opt/dialfunnel/.venv
CONF_DIR=/etc/dialfunnel
CONF=$CONF_DIR/dialfunnel.toml
GUNICORN_CONF=$CONF_DIR/gunicorn.conf.py
PHONES=$CONF_DIR/agent-phones.txt
DATA_DIR=/var/lib/dialfunnel
AST_ETC=/etc/asterisk
MONITOR_DIR=/var/spool/asterisk/monitor/dialfunnel
FAX_DIR=/var/spool/asterisk/fax/dialfunnel
SOUNDS_DIR=/var/lib/asterisk/sounds/dialfunnel
AMI_PLACEHOLDER=__DIALFUNNEL_AMI_SECRET__

log() { printf '==> %s\n' "$*"; }
die() { printf 'provision.sh: %s\n' "$*" >&2; exit 1; }

gen_secret() {  # gen_secret BYTES: a random hex string
    python3 -c 'import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))' "$1"
}

toml_value() {  # toml_value KEY: the key's value in $CONF, empty when absent
    [ -f "$CONF" ] || return 0
    python3 - "$CONF" "$1" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as fh:
    print(tomllib.load(fh).get(sys.argv[2], ""))
PY
}

ensure_line() {  # ensure_line FILE LINE: append LINE to FILE unless it is there already
    touch "$1"
    grep -qxF "$2" "$1" || printf '\n%s\n' "$2" >> "$1"
}

as_dialfunnel() {
    (cd / && runuser -u dialfunnel -- env DIALFUNNEL_CONFIG="$CONF" "$@")
}

[ "$(id -u)" -eq 0 ] || die "run as root"
if [ ! -f "$SRC/pyproject.toml" ] || [ ! -d "$SRC/dialplan" ]; then
    die "no dialfunnel working tree at $SRC"
fi

# -- 1. packages ---------------------------------------------------------------------------
log "installing packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    asterisk asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm \
    python3 python3-venv python3-dev gcc libpq5 \
    libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei \
    ffmpeg sox espeak-ng ghostscript libtiff-tools ca-certificates iproute2

# -- 2. user and folders -------------------------------------------------------------------
log "user dialfunnel and its folders"
if ! id dialfunnel >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin dialfunnel
fi
usermod -a -G asterisk dialfunnel
install -d -o dialfunnel -g dialfunnel -m 0750 "$DATA_DIR"
# Asterisk writes recordings and received faxes; dialfunnel (group asterisk) reads and moves them,
# and leaves the TIFF product sheets it faxes in $FAX_DIR/out.
install -d -o asterisk -g asterisk -m 2770 "$MONITOR_DIR" "$FAX_DIR" "$FAX_DIR/out"
# The faxes dialfunnel keeps (received and to send): SendFAX must read the ones it sends.
install -d -o dialfunnel -g asterisk -m 2750 "$FAX_DIR/store"
# IVR prompts uploaded in the web app, played by Asterisk.
install -d -o dialfunnel -g asterisk -m 2775 "$SOUNDS_DIR"

# -- 3. dialfunnel into the venv -----------------------------------------------------------
log "installing dialfunnel from $SRC into $VENV"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# Build from a copy: pip must not write build/ or *.egg-info into the synced working tree.
tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build \
    --exclude='*.egg-info' --exclude='__pycache__' --exclude=./.hypothesis \
    --exclude=./.pytest_cache -cf - . | tar -C "$stage" -xf -
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "$stage"

# -- 4. configuration with generated secrets -----------------------------------------------
log "configuration $CONF"
install -d -o root -g dialfunnel -m 0750 "$CONF_DIR"
ami_secret=$(toml_value ami_secret)
if [ ! -f "$CONF" ]; then
    ami_secret=$(gen_secret 24)
    umask 077
    cat > "$CONF.new" <<EOF
# dialfunnel on this machine; written by deploy/provision.sh. The secrets were generated here
# and exist nowhere else (not in git). ami_secret matches /etc/asterisk/manager_dialfunnel.conf.
data_dir = "$DATA_DIR"
secret_key = "$(gen_secret 32)"
# all interfaces inside the VM, so the host reaches the web app through Vagrant's port forward
web_host = "0.0.0.0"
web_port = 8000
agi_host = "127.0.0.1"
agi_port = 4573
ami_host = "127.0.0.1"
ami_port = 5038
ami_username = "dialfunnel"
ami_secret = "$ami_secret"
# the call log's own AMI user: Asterisk filters its events (manager_dialfunnel.conf)
ami_call_log_username = "dialfunnel-calllog"
# the screen-pop listener's own AMI user, filtered the same way
ami_listener_username = "dialfunnel-pops"
# the dialer process's own AMI user, filtered the same way
ami_dialer_username = "dialfunnel-dialer"
log_level = "INFO"
# Folders shared with Asterisk: MixMonitor (and AMD's RECORD FILE) write here, the worker and
# recording_done read here; the IVR prompts are generated where Asterisk plays them.
recordings_incoming = "$MONITOR_DIR"
prompts_dir = "$SOUNDS_DIR"
# ReceiveFAX writes here; the fax-on-demand sheets the dialplan sends; the faxes kept.
fax_spool = "$FAX_DIR"
fax_documents_dir = "$FAX_DIR/out"
fax_dir = "$FAX_DIR/store"
EOF
    umask 022
    chown root:dialfunnel "$CONF.new"
    chmod 0640 "$CONF.new"
    mv "$CONF.new" "$CONF"
elif [ -z "$ami_secret" ]; then
    ami_secret=$(gen_secret 24)
    printf 'ami_secret = "%s"\n' "$ami_secret" >> "$CONF"
fi
[[ "$ami_secret" =~ ^[0-9A-Za-z_-]+$ ]] || die "ami_secret in $CONF: use letters, digits, _ and - only"
# gunicorn's own settings for dialfunnel-web (its unit reads them from this path).
install -o root -g dialfunnel -m 0640 "$SRC/deploy/gunicorn.conf.py" "$GUNICORN_CONF"
# A configuration written by an older provision lacks the shared folders.
[ -n "$(toml_value recordings_incoming)" ] || printf 'recordings_incoming = "%s"\n' "$MONITOR_DIR" >> "$CONF"
[ -n "$(toml_value prompts_dir)" ] || printf 'prompts_dir = "%s"\n' "$SOUNDS_DIR" >> "$CONF"
[ -n "$(toml_value fax_spool)" ] || printf 'fax_spool = "%s"\n' "$FAX_DIR" >> "$CONF"
[ -n "$(toml_value fax_documents_dir)" ] || printf 'fax_documents_dir = "%s"\n' "$FAX_DIR/out" >> "$CONF"
[ -n "$(toml_value fax_dir)" ] || printf 'fax_dir = "%s"\n' "$FAX_DIR/store" >> "$CONF"
[ -n "$(toml_value ami_call_log_username)" ] || printf 'ami_call_log_username = "dialfunnel-calllog"\n' >> "$CONF"
[ -n "$(toml_value ami_listener_username)" ] || printf 'ami_listener_username = "dialfunnel-pops"\n' >> "$CONF"
[ -n "$(toml_value ami_dialer_username)" ] || printf 'ami_dialer_username = "dialfunnel-dialer"\n' >> "$CONF"

# -- 5. Asterisk configuration -------------------------------------------------------------
log "Asterisk configuration in $AST_ETC"
install_conf() {  # install_conf NAME < content: /etc/asterisk/NAME, readable by Asterisk only
    install -o root -g asterisk -m 0640 /dev/stdin "$AST_ETC/$1"
}
install_conf extensions_dialfunnel.conf < "$SRC/dialplan/extensions_dialfunnel.conf"
install_conf queues_dialfunnel.conf < "$SRC/dialplan/queues_dialfunnel.conf"
install_conf confbridge_dialfunnel.conf < "$SRC/dialplan/confbridge_dialfunnel.conf"
sed "s/^secret = $AMI_PLACEHOLDER\$/secret = $ami_secret/" "$SRC/dialplan/manager_dialfunnel.conf" \
    | install_conf manager_dialfunnel.conf
if grep -q "^secret = $AMI_PLACEHOLDER" "$AST_ETC/manager_dialfunnel.conf" \
    || ! grep -q "^secret = $ami_secret\$" "$AST_ETC/manager_dialfunnel.conf"; then
    die "manager_dialfunnel.conf: the secret placeholder was not replaced"
fi

# Agent phones: each `password = CHANGE_ME_<ext>` gets a generated password, kept in $PHONES.
touch "$PHONES"
chmod 0600 "$PHONES"
phone_seds=(-e "")
while read -r ext; do
    password=$(awk -v ext="$ext" '$1 == ext { print $2 }' "$PHONES")
    if [ -z "$password" ]; then
        password=$(gen_secret 12)
        printf '%s %s\n' "$ext" "$password" >> "$PHONES"
    fi
    phone_seds+=(-e "s/^password = CHANGE_ME_$ext\$/password = $password/")
done < <(sed -n 's/^password = CHANGE_ME_\([0-9][0-9]*\)$/\1/p' "$SRC/dialplan/pjsip_dialfunnel.conf")
sed "${phone_seds[@]}" "$SRC/dialplan/pjsip_dialfunnel.conf" | install_conf pjsip_dialfunnel.conf
if grep -q '^password = CHANGE_ME_' "$AST_ETC/pjsip_dialfunnel.conf"; then
    die "pjsip_dialfunnel.conf: an agent phone password placeholder was not replaced"
fi

for name in extensions queues pjsip confbridge; do
    ensure_line "$AST_ETC/$name.conf" "#include ${name}_dialfunnel.conf"
done

# manager.conf: ours entirely (the distribution's copy is kept once as manager.conf.dist-orig).
if [ -f "$AST_ETC/manager.conf" ] && [ ! -f "$AST_ETC/manager.conf.dist-orig" ]; then
    cp -p "$AST_ETC/manager.conf" "$AST_ETC/manager.conf.dist-orig"
fi
install_conf manager.conf <<'EOF'
; Written by dialfunnel deploy/provision.sh (the distribution's file: manager.conf.dist-orig).
; AMI listens on loopback only; the dialfunnel user comes from manager_dialfunnel.conf.
[general]
enabled = yes
port = 5038
bindaddr = 127.0.0.1

#include manager_dialfunnel.conf
EOF

# chan_sip (where the build still has it) would take UDP 5060 from the PJSIP transport.
for module in /usr/lib/*/asterisk/modules/chan_sip.so /usr/lib/asterisk/modules/chan_sip.so; do
    if [ -e "$module" ]; then
        ensure_line "$AST_ETC/modules.conf" "noload => chan_sip.so"
        break
    fi
done

systemctl enable asterisk
systemctl restart asterisk
for _ in $(seq 30); do
    asterisk -rx 'core waitfullybooted' >/dev/null 2>&1 && break
    sleep 1
done
asterisk -rx 'core waitfullybooted' >/dev/null || die "Asterisk did not start (journalctl -u asterisk)"

# -- 6. database, services, checks ---------------------------------------------------------
log "database"
as_dialfunnel "$VENV/bin/dialfunnel" db upgrade
log "IVR prompts (text to speech) into $SOUNDS_DIR"
as_dialfunnel "$VENV/bin/dialfunnel" prompts generate
if [ "$DEMO" = 1 ]; then
    as_dialfunnel "$VENV/bin/dialfunnel" demo
fi

log "systemd units"
install -m 0644 "$SRC"/deploy/systemd/dialfunnel-*.service /etc/systemd/system/
# Until the command line has `dialfunnel web` / `dialfunnel worker`, `dialfunnel run` serves the
# web app and runs the reminder worker in one process.
services="dialfunnel-agi dialfunnel-web"
if "$VENV/bin/dialfunnel" web --help >/dev/null 2>&1; then
    rm -rf /etc/systemd/system/dialfunnel-web.service.d
else
    install -d /etc/systemd/system/dialfunnel-web.service.d
    printf '[Service]\nExecStart=\nExecStart=%s run\n' "$VENV/bin/dialfunnel" \
        > /etc/systemd/system/dialfunnel-web.service.d/run.conf
fi
if "$VENV/bin/dialfunnel" worker --help >/dev/null 2>&1; then
    services="$services dialfunnel-worker"
else
    systemctl disable --now dialfunnel-worker >/dev/null 2>&1 || true
    log "dialfunnel-worker not enabled: this version has no \`dialfunnel worker\` command"
fi
if "$VENV/bin/dialfunnel" dialer --help >/dev/null 2>&1; then
    services="$services dialfunnel-dialer"
fi
systemctl daemon-reload
for service in $services; do
    systemctl enable "$service"
    systemctl restart "$service"
done

log "checks"
listening() { ss -ltnH "sport = :$1" | grep -q .; }
for port in 4573 8000 5038; do
    for _ in $(seq 30); do
        listening "$port" && break
        sleep 1
    done
    listening "$port" || die "nothing listens on TCP port $port (journalctl -u dialfunnel-agi -u dialfunnel-web -u asterisk)"
done
for context in dialfunnel-inbound dialfunnel-outbound dialfunnel-agents dialfunnel-fax; do
    asterisk -rx "dialplan show $context" | grep -q "'$context'" \
        || die "Asterisk did not load the dialplan context $context"
done
asterisk -rx 'manager show user dialfunnel' | grep -q 'username: dialfunnel' \
    || die "Asterisk did not load the AMI user dialfunnel"
asterisk -rx 'queue show sales' | grep -q '^sales' || log "warning: queue sales not loaded"
asterisk -rx 'pjsip show endpoint 8001' | grep -Eq 'Endpoint: +8001' \
    || log "warning: PJSIP endpoint 8001 not loaded"

address=$(ip -4 -o addr show scope global | awk '{ sub(/\/.*/, "", $4); print $4 }' | tr '\n' ' ')
cat <<EOF

dialfunnel is up.
  web app:      http://127.0.0.1:8000/ (on the Vagrant host; the first provisioning printed the demo users)
  SIP phones:   register 8001-8010 at one of: ${address:-this machine}
                (passwords: sudo cat $PHONES)
  carrier:      fill the CARRIER_* placeholders in $AST_ETC/pjsip_dialfunnel.conf
  logs:         journalctl -u dialfunnel-agi -u dialfunnel-web -u asterisk
EOF
