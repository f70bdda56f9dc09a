// route.go is `switchyard route validate FILE` and `switchyard route show FILE`: check a
// dynamic route's JSON offline, or print its compiled graph, before deploying it. FILE
// holds a route ({id, name, elements}) or a bare array of elements; "-" reads stdin.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/flows"
)

const routeUsage = `usage: switchyard route validate FILE   check a route, print every problem with its element id
       switchyard route show FILE       print the compiled route, one node per line
FILE holds {"id","name","elements"} or a bare elements array; "-" reads stdin.`

// routeCmd runs a route subcommand and returns the exit code: 0 valid, 1 invalid or
// unreadable, 2 a usage error.
func routeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 2 || (args[0] != "validate" && args[0] != "show") {
		fmt.Fprintln(stderr, routeUsage)
		return 2
	}
	action, file := args[0], args[1]
	data, err := readRouteFile(file, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "switchyard route:", err)
		return 1
	}
	name, elements, err := decodeRouteFile(file, data)
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	graph, problems := flows.Compile(elements)
	if problems != nil {
		printProblems(stderr, problems)
		return 1
	}
	if action == "show" {
		fmt.Fprint(stdout, graph.String())
		return 0
	}
	fmt.Fprintf(stdout, "route %s is valid (%d elements)\n", name, len(elements))
	return 0
}

func readRouteFile(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return data, nil
	}
	return os.ReadFile(file)
}

// decodeRouteFile reads a route or a bare elements array. The route's name is its name,
// else its id, else the file's name.
func decodeRouteFile(file string, data []byte) (string, []flows.Element, error) {
	name := filepath.Base(file)
	if file == "-" {
		name = "stdin"
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		elements, err := flows.ParseElements(data)
		return name, elements, err
	}
	route, err := flows.ParseRoute(data)
	if err != nil {
		return "", nil, err
	}
	switch {
	case route.Name != "":
		name = route.Name
	case route.ID != "":
		name = route.ID
	}
	return name, route.Elements, nil
}

// printProblems writes one problem per line.
func printProblems(w io.Writer, err error) {
	if problems, ok := err.(flows.Problems); ok {
		for _, p := range problems {
			fmt.Fprintln(w, p.String())
		}
		return
	}
	fmt.Fprintln(w, err)
}
