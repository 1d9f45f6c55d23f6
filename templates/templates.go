// Package templates holds bootd's embedded templates, assets and boot-time
// files, so that the binary serves them with no files beside it and no
// network.
package templates

import "embed"

// HTML holds the dashboard: html/template files in html/ and the static
// assets they link (CSS, JavaScript) in static/.
//
//go:embed html static
var HTML embed.FS

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

// Boot holds the boot file templates, under boot/.
//
//go:embed boot/*
var Boot embed.FS
