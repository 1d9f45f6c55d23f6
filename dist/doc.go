// Package dist holds the files an installation of bootd takes besides the
// binary: the systemd unit (bootd.service) and the system user it runs as
// (bootd.sysusers, for /usr/lib/sysusers.d/bootd.conf). It has no Go code;
// its tests rate the unit with systemd-analyze security and check that the
// unit, the user file and the demo agree (docs/operations.md).
package dist
