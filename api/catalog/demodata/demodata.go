// Package demodata embeds the demo library's catalogue: the distinct MARC 21
// bibliographic records of the real sample files under testdata/marc
// (Library of Congress conversion suite, CC0; pymarc test files,
// BSD-2-Clause; ruby-marc test files, MIT), as one ISO 2709 file. gen.go
// rebuilds it from those files when they change; see README.md here.
package demodata

import _ "embed"

// MARC is the demo catalogue in ISO 2709 (UTF-8).
//
//go:embed demo.mrc
var MARC []byte
