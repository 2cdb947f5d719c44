#!/usr/bin/env bash
# A one-node SLURM on this machine (slurmctld + slurmd on localhost, munge authentication), so that the sbatch
# script that sweeps/submit.py writes is tested by a real scheduler. Debian/Ubuntu; needs root (or sudo).
#   bash .ci/slurm-setup.sh          # install (once) and start; idempotent
#   bash .ci/slurm-setup.sh --stop   # stop the daemons
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if [ "${1:-}" = "--stop" ]; then
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        [ -f "$pidfile" ] && $SUDO kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: the package made a key; the daemon runs as the munge user.
$SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
$SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge /etc/munge/munge.key
$SUDO chmod 0700 /etc/munge /var/log/munge /var/lib/munge
$SUDO chmod 0755 /run/munge
$SUDO chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null >/dev/null 2>&1; then
    $SUDO -u munge /usr/sbin/munged 2>/dev/null || $SUDO runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null

# slurm.conf for one node named like this host, with the CPUs and memory slurmd detects.
node="$(hostname -s)"
node_line="$(slurmd -C | head -n 1 | sed -e 's/ UpTime=.*//')"
$SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=restore-ci
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

pgrep -x slurmctld >/dev/null || $SUDO /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || $SUDO /usr/sbin/slurmd
for _ in $(seq 100); do
    state="$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)"
    case "$state" in idle*|mixed*|allocated*) break ;; esac
    sleep 0.2
done
$SUDO scontrol update nodename="$node" state=resume 2>/dev/null || true
sinfo
