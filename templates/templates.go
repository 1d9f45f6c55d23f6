// Package templates holds bootd's embedded templates and boot-time files.
package templates

import "embed"

// Initramfs holds the files bootd adds to an initramfs-tools image's
// initramfs: scripts/bootd, sourced by init for boot=bootd.
//
//go:embed initramfs
var Initramfs embed.FS
