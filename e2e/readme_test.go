// readme_test.go keeps the README navigable: every link of its table of contents (and any
// other #anchor) names a heading, every heading of the first level has a line in the table,
// and no link leaves the repository through a relative path.
package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestREADMEContents(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	anchors := map[string]bool{}
	var sections []string
	for _, m := range regexp.MustCompile(`(?m)^(#{2,4}) (.+)$`).FindAllStringSubmatch(s, -1) {
		a := strings.ReplaceAll(regexp.MustCompile(`[^\w\- ]`).ReplaceAllString(strings.ToLower(strings.TrimSpace(m[2])), ""), " ", "-")
		anchors[a] = true
		if m[1] == "##" && m[2] != "Contents" {
			sections = append(sections, a)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(s, -1) {
		if !anchors[m[1]] {
			t.Errorf("link #%s names no heading", m[1])
		}
	}
	for _, a := range sections {
		if !strings.Contains(s, "](#"+a+")") {
			t.Errorf("section %s is not in the table of contents", a)
		}
	}
	for _, m := range regexp.MustCompile(`\]\((\.\./[^)]*)\)|`+"`"+`(\.\./shared[^`+"`"+`]*)`+"`").FindAllStringSubmatch(s, -1) {
		t.Errorf("a link leaves the repository: %q", m[0])
	}
}
