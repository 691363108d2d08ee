// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// Alias keeps a flag a manager had before diagkit as a deprecated name of a diagnostics flag, so that the
// manifests, charts and scripts that still pass it keep starting (an unknown flag stops a manager at
// parsing). Give aliases to AddFlags or AddGoFlags.
type Alias struct {
	// Name is the old flag, for example "metrics-bind-address".
	Name string
	// Of is the diagnostics flag it sets, for example FlagDiagnosticsAddress.
	Of string
	// Negated makes a boolean alias mean the opposite of Of: --metrics-secure=false is
	// --insecure-diagnostics=true.
	Negated bool
}

// DeprecatedAlias is Alias{Name: name, Of: of}.
func DeprecatedAlias(name, of string) Alias { return Alias{Name: name, Of: of} }

// DeprecatedNegation is Alias{Name: name, Of: of, Negated: true}, for boolean flags.
func DeprecatedNegation(name, of string) Alias { return Alias{Name: name, Of: of, Negated: true} }

func (a Alias) usage() string {
	if a.Negated {
		return fmt.Sprintf("Deprecated: use --%s with the opposite value.", a.Of)
	}
	return fmt.Sprintf("Deprecated: use --%s.", a.Of)
}

// checkAliases refuses aliases that name no diagnostics flag, negate a flag that is not boolean, repeat a
// name, or take a name already defined.
func checkAliases(aliases []Alias, defined func(name string) bool, isBool func(name string) bool) error {
	known := map[string]bool{}
	for _, n := range flagNames {
		known[n] = true
	}
	seen := map[string]bool{}
	for _, a := range aliases {
		switch {
		case !known[a.Of]:
			return fmt.Errorf("alias --%s: --%s is not a diagnostics flag", a.Name, a.Of)
		case a.Negated && !isBool(a.Of):
			return fmt.Errorf("alias --%s: only a boolean flag can be negated, and --%s is not one", a.Name, a.Of)
		case known[a.Name] || seen[a.Name]:
			return fmt.Errorf("alias --%s: the name is a diagnostics flag or given twice", a.Name)
		case defined(a.Name):
			return fmt.Errorf("alias --%s: already defined; remove the existing definition", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

// addPflagAliases registers aliases that share the value of the flag they stand for, hidden from --help
// and reported as deprecated by pflag when used.
func addPflagAliases(fs *pflag.FlagSet, aliases []Alias) error {
	for _, a := range aliases {
		target := fs.Lookup(a.Of)
		var value pflag.Value = target.Value
		if a.Negated {
			value = &negation{target: target.Value, typ: "bool"}
		}
		fs.Var(value, a.Name, a.usage())
		if target.NoOptDefVal != "" {
			fs.Lookup(a.Name).NoOptDefVal = "true"
		}
		if err := fs.MarkDeprecated(a.Name, a.usage()[len("Deprecated: "):]); err != nil {
			return err
		}
	}
	return nil
}

// addGoAliases registers aliases on a standard library FlagSet, which has no notion of deprecation: the
// usage says it.
func addGoAliases(fs *flag.FlagSet, aliases []Alias) {
	for _, a := range aliases {
		var value flag.Value = fs.Lookup(a.Of).Value
		if a.Negated {
			value = &negation{target: value, typ: "bool"}
		}
		fs.Var(value, a.Name, a.usage())
	}
}

// negation is a boolean flag value that sets the opposite of what it is given on target.
type negation struct {
	target flag.Value
	typ    string
}

func (n *negation) String() string {
	if n.target == nil {
		return ""
	}
	b, err := strconv.ParseBool(n.target.String())
	if err != nil {
		return ""
	}
	return strconv.FormatBool(!b)
}

func (n *negation) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("expected true or false, found %q", s)
	}
	return n.target.Set(strconv.FormatBool(!b))
}

func (n *negation) Type() string     { return n.typ }
func (n *negation) IsBoolFlag() bool { return true }
