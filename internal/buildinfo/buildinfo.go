// Package buildinfo says which Ward this is: the version, the commit it was
// built from and that commit's time, and the Go toolchain, read from the
// build information the Go linker embeds in every binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Dev is the version of a build that carries none: go run, go build
// without -ldflags, tests.
const Dev = "dev"

// Info is one binary's identity.
type Info struct {
	// Version is the release version: the one set with
	// -ldflags "-X main.version=v1.2.3", else the module version that
	// go install ...@v1.2.3 records, else Dev.
	Version string
	// Commit is the VCS revision the binary was built from, empty when the
	// build had no VCS information (go install from the proxy, go test,
	// -buildvcs=false).
	Commit string
	// Modified is true when the work tree had uncommitted changes.
	Modified bool
	// Date is the commit's time (RFC 3339, UTC): the date of a build that
	// is reproducible, since it does not depend on when the build ran.
	Date string
	// GoVersion is the toolchain that built the binary; Platform its
	// GOOS/GOARCH.
	GoVersion, Platform string
}

// Read returns this binary's Info; linked is the version set at link time
// (empty or Dev when none was).
func Read(linked string) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(linked, bi)
}

// From builds Info from the linked version and build information (nil when
// the binary has none).
func From(linked string, bi *debug.BuildInfo) Info {
	info := Info{Version: linked, GoVersion: runtime.Version()}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" || info.Version == Dev {
			// "(devel)" is what go build records for the main module.
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				info.Version = v
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = Dev
	}
	info.Platform = goos + "/" + goarch
	return info
}

// String is what ward version prints: the version on the first line, then
// one labelled line each for the commit, its date and the toolchain.
func (i Info) String() string {
	commit, date := i.Commit, i.Date
	if commit == "" {
		commit = "unknown (built without VCS information)"
	} else if i.Modified {
		commit += " (modified: built with uncommitted changes)"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("ward %s\ncommit: %s\ndate:   %s\ngo:     %s %s\n", i.Version, commit, date, i.GoVersion, i.Platform)
}
