// Package templates holds bootd's embedded templates and assets, so that the
// binary serves them with no files beside it and no network.
package templates

import "embed"

// HTML holds the dashboard: html/template files in html/ and the static
// assets they link (CSS, JavaScript) in static/.
//
//go:embed html static
var HTML embed.FS
