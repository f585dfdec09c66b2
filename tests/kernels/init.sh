#!/bin/busybox sh
# /init of the kernel-matrix VMs: mount the kernel filesystems, run the same
# scenario as on the host, power off. Output goes to the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
n=$(sed -n 's/.*tally\.n=\([0-9]*\).*/\1/p' /proc/cmdline)
TALLYD=/bin/tallyd TALLYCTL=/bin/tallyctl EVENTS=/bin/tally-events \
  N=${n:-1000} RUNDIR=/tmp/run sh /scenario.sh 2>&1
echo "@@EXIT $?"
if [ -s /tmp/run/tallyd.log ]; then
  echo "@@TALLYD_LOG"
  cat /tmp/run/tallyd.log
fi
poweroff -f
