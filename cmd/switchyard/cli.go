// cli.go is the command table behind `switchyard`: each command with its one-line summary,
// `switchyard help`, `--help` on every command (exit 0, that command's flags only) and
// `version`. With no command, or flags first, `switchyard` serves (as the images run it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=... -X main.date=...";
// commit and date otherwise come from the Go toolchain's VCS stamp when there is one.
var (
	version = "0.1.0"
	commit  = ""
	date    = ""
)

type command struct{ name, args, summary string }

var commands = []command{
	{"serve", "[flags]", "run the gateway (the default command)"},
	{"demo", "[flags]", "run the gateway with built-in mock providers and a demo gateway: a first answer with no key and no network (serve's flags)"},
	{"replay", "[flags]", "rebuild the logs, analytics and counters projections from the event log into a new store"},
	{"token", "create|list|revoke [flags]", "manage API tokens of a running gateway"},
	{"audit", "[flags]", "print the audit log of configuration changes of a running gateway"},
	{"route", "validate|show FILE", "check a dynamic route file, or print it compiled"},
	{"logs", "tail [flags]", "follow finished requests live from the event log, one line each"},
	{"logpush", "decrypt --key KEY FILE...", "decrypt Logpush files written by the gateway"},
	{"version", "", "print the version, commit and build date"},
	{"help", "[COMMAND]", "list the commands, or one command's flags"},
}

// errHelpShown: the help asked for was printed; the process exits 0.
var errHelpShown = errors.New("help shown")

// helpOut is where a command's usage goes when --help was asked for.
var helpOut io.Writer = os.Stdout

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches to a command and returns the process's exit code.
func run(args []string, stdout, stderr io.Writer) int {
	helpOut = stdout
	name, named := "serve", false
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args, named = args[0], args[1:], true
	}
	if !named && len(args) > 0 && isVersionFlag(args[0]) {
		name = "version"
	}
	if !named && len(args) > 0 && isHelpFlag(args[0]) {
		// `switchyard --help`: the commands, then serve's flags.
		printCommands(stdout)
		fmt.Fprintln(stdout)
	}
	var err error
	switch name {
	case "help":
		if len(args) == 0 {
			printCommands(stdout)
			return 0
		}
		return run([]string{args[0], "--help"}, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "route":
		if len(args) > 0 && isHelpFlag(args[0]) {
			fmt.Fprintln(stdout, routeUsage)
			return 0
		}
		return routeCmd(args, os.Stdin, stdout, stderr)
	case "serve":
		err = serve(args)
	case "demo":
		err = demo(args)
	case "replay":
		err = replay(args)
	case "token":
		err = tokenCmd(args)
	case "audit":
		err = auditCmd(args)
	case "logs":
		err = logsCmd(args)
	case "logpush":
		err = logpushCmd(args)
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q; `switchyard help` lists the commands\n", name)
		return 2
	}
	switch {
	case err == nil || errors.Is(err, errHelpShown):
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "switchyard:", err)
		return 1
	}
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func isVersionFlag(a string) bool { return a == "-version" || a == "--version" || a == "-v" }

// printCommands is the top-level help: every command with one line.
func printCommands(w io.Writer) {
	fmt.Fprintln(w, "Switchyard, a self-hosted AI gateway.")
	fmt.Fprintln(w, "\nusage: switchyard [COMMAND] [flags]   (no command: serve)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n`switchyard COMMAND --help` lists a command's flags.")
}

// newFlags is a command's flag set: parse errors are returned (main prints them), and
// --help prints the command's usage and only its flags to standard output.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs; --help prints the usage of command name and returns
// errHelpShown.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(fs)
		return errHelpShown
	}
	return err
}

func printUsage(fs *flag.FlagSet) {
	top, _, _ := strings.Cut(fs.Name(), " ")
	if c := findCommand(top); c != nil {
		fmt.Fprintf(helpOut, "usage: switchyard %s %s\n\n%s.\n\nflags:\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	}
	fs.SetOutput(helpOut)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// versionLine is `switchyard version`: version, commit and build date from -ldflags, else
// the commit and its time from the VCS stamp the Go toolchain wrote into the binary (none
// under `go run`, or with GOFLAGS=-buildvcs=false as on this project's machines).
func versionLine() string {
	c, built, committed, modified := commit, date, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.time":
				committed = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if c == "" {
		c = "unknown"
	} else if modified {
		c += " (modified)"
	}
	switch {
	case built != "":
		return fmt.Sprintf("switchyard %s, commit %s, built %s", version, c, built)
	case committed != "":
		return fmt.Sprintf("switchyard %s, commit %s of %s, build date not stamped", version, c, committed)
	}
	return fmt.Sprintf("switchyard %s, commit unknown, build date not stamped (build with -buildvcs=true or -ldflags \"-X main.commit=... -X main.date=...\")", version)
}
