// Package templates holds bootd's embedded templates. boot/ has the boot
// files generated per machine (iPXE scripts, the Raspberry Pi config.txt),
// as text/template files named after the file they make.
package templates

import "embed"

// Boot holds the boot file templates, under boot/.
//
//go:embed boot/*
var Boot embed.FS
