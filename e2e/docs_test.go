// docs_test.go keeps the documentation true. TestDocsCommands runs every fenced `sh` block
// of README.md and docs/*.md against a `switchyard demo`: one `sh -e` per file, its blocks
// in order, from the directory the demo runs in, with 127.0.0.1:8787 rewritten to the
// demo's address, `go run ./cmd/switchyard` run as the built binary and curl failing on an
// HTTP error. A block marked `sh not-run: TestName ...` is not run here; the test (or
// benchmark) it names must exist. TestDocsLinks checks every link of those files: anchors name a heading, files
// exist inside the repository, and the README's table of contents lists every section.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// docFiles are the documentation files, README first.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	slices.Sort(docs)
	return append([]string{"../README.md"}, docs...)
}

// shBlock is one fenced sh block: where it starts, its text, and why it is not run here.
type shBlock struct {
	line   int
	text   string
	notRun string // the text after "not-run:", empty when the block runs
}

var fence = regexp.MustCompile("^```(\\S*)\\s*(.*)$")

// shBlocks extracts the fenced sh blocks of a markdown text.
func shBlocks(md string) []shBlock {
	var out []shBlock
	var cur *shBlock
	inFence := false
	for i, l := range strings.Split(md, "\n") {
		m := fence.FindStringSubmatch(l)
		switch {
		case m != nil && inFence:
			inFence = false
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		case m != nil:
			inFence = true
			if m[1] == "sh" {
				cur = &shBlock{line: i + 1}
				if r, ok := strings.CutPrefix(m[2], "not-run:"); ok {
					cur.notRun = strings.TrimSpace(r)
				}
			}
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	return out
}

// testNames are the Test and Benchmark functions of every _test.go file in the repository.
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark)\w+)\(`)
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// docsPreamble comes before a file's blocks: stop at the first failing command, curl fails
// on an HTTP error status, and `go run ./cmd/switchyard` is the binary under test.
const docsPreamble = `set -e
curl() { command curl -sS --fail-with-body "$@"; }
go() { if [ "$1" = run ] && [ "$2" = ./cmd/switchyard ]; then shift 2; "$SWITCHYARD_BIN" "$@"; else command go "$@"; fi; }
`

func TestDocsCommands(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (.ci/run installs it)", tool)
		}
	}
	tests := testNames(t)
	d := startDemo(t)
	addr := strings.TrimPrefix(d.URL, "http://")
	ran := 0
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../")
		var script strings.Builder
		script.WriteString(docsPreamble)
		blocks := 0
		for _, bl := range shBlocks(string(b)) {
			if bl.notRun != "" {
				test, _, _ := strings.Cut(bl.notRun, " ")
				if !tests[test] {
					t.Errorf("%s:%d: a block not run here must name the test or benchmark that runs it (not-run: TestName why); %q names none that exists", name, bl.line, bl.notRun)
				}
				continue
			}
			fmt.Fprintf(&script, "echo '>>> %s:%d' >&2\n", name, bl.line)
			text := strings.NewReplacer("127.0.0.1:8787", addr, "localhost:8787", addr).Replace(bl.text)
			script.WriteString(text)
			blocks++
		}
		if blocks == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			sh := exec.CommandContext(ctx, "sh", "-c", script.String())
			sh.Dir = d.Dir
			sh.Env = append(freshEnv(), "SWITCHYARD_URL="+d.URL, "SWITCHYARD_BIN="+binary)
			sh.WaitDelay = 5 * time.Second // a command left running in the background cannot hold the test
			out, err := sh.CombinedOutput()
			if err != nil {
				t.Fatalf("%v; the last >>> line is the failing block:\n%s", err, out)
			}
			t.Logf("%d blocks ran", blocks)
		})
		ran += blocks
	}
	if ran == 0 {
		t.Fatal("no sh block ran")
	}
}

var (
	headingLine = regexp.MustCompile(`(?m)^(#{1,4}) (.+)$`)
	mdLink      = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// anchorOf is the anchor GitHub gives a heading.
func anchorOf(heading string) string {
	return strings.ReplaceAll(regexp.MustCompile(`[^\w\- ]`).ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

// headings are the anchors of a markdown text's headings, outside code fences.
func headings(md string) map[string]bool {
	out := map[string]bool{}
	inFence := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			inFence = !inFence
			continue
		}
		if m := headingLine.FindStringSubmatch(l); m != nil && !inFence {
			out[anchorOf(m[2])] = true
		}
	}
	return out
}

// upstreamHosts are the hosts a link may leave the repository for: the projects we build on.
var upstreamHosts = []string{"github.com", "pkg.go.dev", "nats.io", "docs.nats.io", "dgraph.io", "opentelemetry.io", "developers.cloudflare.com", "prometheus.io"}

func TestDocsLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../")
		md := string(b)
		own := headings(md)
		for _, m := range mdLink.FindAllStringSubmatch(md, -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			switch {
			case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
				host := strings.SplitN(strings.SplitN(target, "://", 2)[1], "/", 2)[0]
				if !slices.Contains(upstreamHosts, host) {
					t.Errorf("%s: %s leaves the repository for %s, not an upstream project", name, m[1], host)
				}
			case target == "":
				if !own[anchor] {
					t.Errorf("%s: #%s names no heading", name, anchor)
				}
			default:
				p, err := filepath.Abs(filepath.Join(filepath.Dir(f), target))
				if err != nil || !strings.HasPrefix(p, root+string(filepath.Separator)) {
					t.Errorf("%s: %s leaves the repository", name, m[1])
					continue
				}
				tb, err := os.ReadFile(p)
				if st, serr := os.Stat(p); serr == nil && st.IsDir() {
					err = nil
				}
				if err != nil {
					t.Errorf("%s: %s: %v", name, m[1], err)
					continue
				}
				if anchor != "" && !headings(string(tb))[anchor] {
					t.Errorf("%s: %s: #%s names no heading of %s", name, m[1], anchor, target)
				}
			}
		}
	}
	// The README's table of contents lists every section.
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, m := range regexp.MustCompile(`(?m)^## (.+)$`).FindAllStringSubmatch(s, -1) {
		if a := anchorOf(m[1]); m[1] != "Contents" && !strings.Contains(s, "](#"+a+")") {
			t.Errorf("README section %q is not in the table of contents", m[1])
		}
	}
}
