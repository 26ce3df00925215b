// Package tz loads IANA time zones once per process.
package tz

import (
	"sync"
	"time"
)

var zones sync.Map // name -> *time.Location

// Load is time.LoadLocation, remembered. The standard library opens and
// parses the zone file on every call, and the desk resolves its branch's
// zone on every request (several times: due date, calendar, blocks). Only
// zones that load are kept, so the cache holds at most the IANA names.
func Load(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

// OrUTC is the zone named, or UTC when the name is empty or unknown (a
// stored zone was validated when it was set; UTC keeps a desk working if
// the host's zone database lost one).
func OrUTC(name string) *time.Location {
	if l, err := Load(name); err == nil {
		return l
	}
	return time.UTC
}
