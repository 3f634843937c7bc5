// Package auditlog reads AppArmor events from every place the kernel and
// dbus-daemon leave them: auditd's audit.log (including the ENRICHED format),
// syslog and kern.log, dmesg output, the systemd journal (journalctl -o json,
// from a file or live) and D-Bus USER_AVC records.
//
// Reading is streaming and bounded: lines longer than a limit are skipped and
// counted, values are hex-decoded the way libapparmor does, duplicates of one
// event seen through two transports are dropped by their audit serial, and
// signs that the kernel or journald lost events are counted so a review can
// refuse to call a quiet profile ready when the log cannot prove it was quiet.
//
// The parser follows libapparmor's log grammar closely enough to reproduce its
// test_multi vectors; its Event fields carry the same names.
package auditlog
