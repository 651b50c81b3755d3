// What runs inside the test guest: the initramfs's /init (busybox sh), the udhcpc hook that sets
// the leased address, and busybox acpid's table that turns the ACPI power button into a poweroff.
// The lines it prints on the serial console are the markers tests and `ultracloud trial` wait for.

/** Printed once the guest booted, read its config drive and tried DHCP on every NIC. */
export const GUEST_READY_MARKER = 'ULTRACLOUD-GUEST-READY';
/** Printed with the config drive's instance id and hostname. */
export const GUEST_METADATA_MARKER = 'ULTRACLOUD-METADATA';
/** Printed by the DHCP hook with the interface and the leased address. */
export const GUEST_DHCP_MARKER = 'ULTRACLOUD-DHCP';
/** Printed when the guest powers off because of the ACPI power button. */
export const GUEST_POWEROFF_MARKER = 'ULTRACLOUD-POWEROFF';

/** The kernel modules the guest loads, in order (their dependencies are added before them). */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_net',
  'virtio_blk',
  'vfat',
  'nls_cp437',
  'nls_iso8859-1',
  'evdev',
  'button',
] as const;

export function initScript(modules: readonly string[]): string {
  return `#!/bin/busybox sh
# UltraCloud test guest: busybox only, no root filesystem beyond this initramfs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /var/run /var/log /tmp /mnt
for m in ${modules.join(' ')}; do insmod /lib/modules/$m.ko 2>/dev/null; done
ip link set lo up
# The ACPI power button (QMP system_powerdown) powers the guest off.
acpid -c /etc/acpi -a /etc/acpid.conf -l /var/log/acpid.log
# The NoCloud config drive (label CIDATA): instance id, hostname, user data.
sleep 0.3
seed=$(findfs LABEL=CIDATA 2>/dev/null)
if [ -n "$seed" ] && mount -t vfat -o ro,iocharset=iso8859-1,codepage=437 "$seed" /mnt; then
  id=$(sed -n 's/^instance-id: *"\\{0,1\\}\\([^"]*\\)"\\{0,1\\}$/\\1/p' /mnt/meta-data)
  host=$(sed -n 's/^local-hostname: *"\\{0,1\\}\\([^"]*\\)"\\{0,1\\}$/\\1/p' /mnt/meta-data)
  [ -n "$host" ] && hostname "$host"
  echo "${GUEST_METADATA_MARKER} instance-id=$id hostname=$host"
  if head -c 2 /mnt/user-data | grep -q '^#!'; then
    cp /mnt/user-data /tmp/user-data && chmod +x /tmp/user-data && /tmp/user-data
  fi
  umount /mnt
fi
for path in /sys/class/net/*; do
  nic=\${path##*/}
  [ "$nic" = lo ] && continue
  ip link set "$nic" up
  udhcpc -i "$nic" -s /etc/udhcpc.script -t 15 -T 1 -A 3 -b -q
done
echo "${GUEST_READY_MARKER} uptime=$(cut -d' ' -f1 /proc/uptime) ip=$(ip -4 -o addr show scope global | awk '{print $4}' | tr '\\n' ' ')"
exec setsid cttyhack sh
`;
}

export const UDHCPC_SCRIPT = `#!/bin/sh
# busybox udhcpc hook: apply the lease (udhcpc itself configures nothing).
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route del default dev "$interface" 2>/dev/null
      ip route add default via "\${router%% *}" dev "$interface"
    fi
    echo "${GUEST_DHCP_MARKER} $interface $ip/\${mask:-24}" > /dev/console
    ;;
esac
exit 0
`;

export const ACPID_CONF = 'PWRF poweroff\n';

export const ACPI_POWEROFF = `#!/bin/sh
echo "${GUEST_POWEROFF_MARKER}" > /dev/console
poweroff -f
`;

export const SYSLINUX_CFG = `DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 rdinit=/init quiet panic=-1
`;
