// Package demodata embeds the demo library's catalogue: the distinct, clean
// records of the real sample files under testdata/marc (Library of Congress
// conversion suite, CC0; pymarc test files, BSD-2-Clause; ruby-marc test
// files, MIT), as one ISO 2709 file. Regenerate it from those files when
// they change; see README.md here.
package demodata

import _ "embed"

// MARC is the demo catalogue in ISO 2709 (UTF-8).
//
//go:embed demo.mrc
var MARC []byte
