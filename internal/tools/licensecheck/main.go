// Command licensecheck checks the licences of the Go modules linked into
// Ward. It lists the modules behind the packages given (./cmd/ward by
// default) with go list, reads each one's licence files from the module
// cache, classifies them, and exits 1 naming every module whose licence is
// missing, unrecognised or not on the allowed list, and every module whose
// NOTICE file Ward's NOTICE does not carry. With -bundle it also writes the
// licence and NOTICE texts of everything linked, the Go standard library
// included, for a release to ship beside the binary.
//
//	go run ./internal/tools/licensecheck [-notice NOTICE] [-bundle FILE] [packages]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("licensecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noticePath := fs.String("notice", "NOTICE", "Ward's NOTICE file, which must name each module that ships a NOTICE")
	bundle := fs.String("bundle", "", "write the licence and NOTICE texts of everything linked to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pkgs := fs.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./cmd/ward"}
	}
	mods, err := listModules(pkgs)
	if err != nil {
		fmt.Fprintln(stderr, "licensecheck:", err)
		return 1
	}
	notice, err := os.ReadFile(*noticePath)
	if err != nil {
		fmt.Fprintln(stderr, "licensecheck:", err)
		return 1
	}
	verdicts := make([]Verdict, len(mods))
	failed := 0
	for i, m := range mods {
		v := inspect(m)
		verdicts[i] = v
		fmt.Fprintf(stdout, "%-60s %-36s %s\n", m.Path, m.Version, strings.Join(v.Licences, ", "))
		if !v.OK() {
			failed++
			for _, p := range v.Problems {
				fmt.Fprintf(stderr, "licensecheck: %s %s: %s\n", m.Path, m.Version, p)
			}
		}
	}
	for _, path := range missingNotices(verdicts, string(notice)) {
		failed++
		fmt.Fprintf(stderr, "licensecheck: %s ships a NOTICE file that %s does not carry (Apache License 2.0 section 4(d))\n", path, *noticePath)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "licensecheck: FAILED: %d of %d modules need attention\n", failed, len(mods))
		return 1
	}
	fmt.Fprintf(stdout, "licensecheck: %d modules, every licence allowed\n", len(mods))
	if *bundle != "" {
		if err := writeBundle(*bundle, verdicts); err != nil {
			fmt.Fprintln(stderr, "licensecheck:", err)
			return 1
		}
	}
	return 0
}

// writeBundle writes the Go standard library's licence, then each module's
// licence and NOTICE files, in module path order.
func writeBundle(path string, verdicts []Verdict) error {
	out, err := exec.Command("go", "env", "GOROOT", "GOVERSION").Output()
	if err != nil {
		return fmt.Errorf("go env: %w", err)
	}
	env := strings.Fields(string(out))
	if len(env) != 2 {
		return fmt.Errorf("go env: unexpected output %q", out)
	}
	goLicence, err := os.ReadFile(filepath.Join(env[0], "LICENSE"))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Third-party licences of the Go code linked into ward\n\n")
	section(&b, "Go standard library and runtime "+env[1], Classify(string(goLicence)))
	b.Write(goLicence)
	for _, v := range verdicts {
		section(&b, v.Module.Path+" "+v.Module.Version, v.Licences)
		for _, f := range append(append(append([]File{}, v.Primary...), v.Extra...), v.Notices...) {
			fmt.Fprintf(&b, "\n--- %s\n\n%s\n", f.Name, strings.TrimRight(f.Text, "\n"))
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func section(b *bytes.Buffer, title string, licences []string) {
	fmt.Fprintf(b, "\n%s\n%s\nLicence: %s\n", strings.Repeat("=", 78), title, strings.Join(licences, ", "))
}
