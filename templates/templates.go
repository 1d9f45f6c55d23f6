// Package templates holds bootd's embedded templates and boot-time files.
package templates

import "embed"

// Initramfs holds the files bootd adds to an initramfs-tools image's
// initramfs: scripts/bootd, sourced by init for boot=bootd.
//
//go:embed initramfs
var Initramfs embed.FS

// Alpine holds the files bootd puts in an Alpine node's apkovl: the OpenRC
// service that maps and mounts the node's volume.
//
//go:embed alpine
var Alpine embed.FS
