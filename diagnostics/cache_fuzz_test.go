// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// FuzzDecisionKey holds decisionKey to what the decision cache relies on: two requests share a key only
// when they are the same question (same user, UID, groups in any order, extra, verb and path), so a
// decision cached for one identity never answers another. Each key must also decode back to its request,
// which makes every single input a test of that, and computing it must not reorder the caller's groups.
func FuzzDecisionKey(f *testing.F) {
	for _, seed := range [][2]string{
		{"u\x1e\x1eget\x1e/debug/pprof/\x1eops\x1fpprof-readers", "u\x1e\x1eget\x1e/debug/pprof/\x1eops,pprof-readers"},
		{"u\x1e\x1eget\x1e/\x1e\x1ek\x1da\x1fb", "u\x1e\x1eget\x1e/\x1e\x1ek\x1da,b"},
		{"ab\x1ec\x1eget\x1e/metrics", "a\x1ebc\x1eget\x1e/metrics"},
		{"u\x1e\x1eget\x1e/\x1eg", "u\x1e\x1eget\x1e/\x1e\x1eg"},
		{"u\x1e\x1eget\x1e/\x1eb\x1fa\x1e2#1:x\x1d3:y#", "u\x1e\x1eget\x1e/\x1ea\x1fb\x1e2#1:x\x1d3:y#"},
		{"system:serviceaccount:monitoring:prometheus\x1e0f1e\x1eget\x1e/metrics\x1esystem:serviceaccounts\x1fsystem:authenticated", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, rb := request(a), request(b)
		groups := append([]string(nil), ra.User.GetGroups()...)
		ka, kb := decisionKey(ra), decisionKey(rb)
		if !reflect.DeepEqual(groups, ra.User.GetGroups()) {
			t.Fatalf("decisionKey reordered the groups %q into %q", groups, ra.User.GetGroups())
		}
		if same := reflect.DeepEqual(canonical(ra), canonical(rb)); same != (ka == kb) {
			t.Fatalf("same question %v, same key %v:\n%+v -> %q\n%+v -> %q", same, ka == kb, canonical(ra), ka, canonical(rb), kb)
		}
		got, ok := decodeKey(ka)
		if !ok || !reflect.DeepEqual(got, canonical(ra)) {
			t.Fatalf("key %q decodes to %+v (%v), want %+v", ka, got, ok, canonical(ra))
		}
		reversed := request(a)
		g := reversed.User.(*user.DefaultInfo).Groups
		for i, j := 0, len(g)-1; i < j; i, j = i+1, j-1 {
			g[i], g[j] = g[j], g[i]
		}
		if decisionKey(reversed) != ka {
			t.Fatalf("the order of groups %q changes the key", g)
		}
	})
}

// request decodes a fuzzed string into a request: name, UID, verb, path, groups and extra, separated by
// \x1e; groups and values by \x1f; extra entries by \x1c, a key from its values by \x1d.
func request(s string) authorizer.AttributesRecord {
	parts := strings.SplitN(s, "\x1e", 6)
	for len(parts) < 6 {
		parts = append(parts, "")
	}
	u := &user.DefaultInfo{Name: parts[0], UID: parts[1]}
	if parts[4] != "" {
		u.Groups = strings.Split(parts[4], "\x1f")
	}
	if parts[5] != "" {
		u.Extra = map[string][]string{}
		for _, entry := range strings.Split(parts[5], "\x1c") {
			k, values, _ := strings.Cut(entry, "\x1d")
			if values != "" {
				u.Extra[k] = strings.Split(values, "\x1f")
			} else if _, ok := u.Extra[k]; !ok {
				u.Extra[k] = nil
			}
		}
	}
	return authorizer.AttributesRecord{User: u, Verb: parts[2], Path: parts[3]}
}

// question is what a SubjectAccessReview for a non-resource request asks: groups sorted, an extra key
// with no values the same as one with an empty list.
type question struct {
	Name, UID  string
	Groups     []string
	Extra      map[string][]string
	Verb, Path string
}

func canonical(a authorizer.AttributesRecord) question {
	q := question{Name: a.User.GetName(), UID: a.User.GetUID(), Verb: a.Verb, Path: a.Path, Extra: map[string][]string{}}
	q.Groups = append([]string{}, a.User.GetGroups()...)
	sort.Strings(q.Groups)
	for k, v := range a.User.GetExtra() {
		q.Extra[k] = append([]string{}, v...)
	}
	return q
}

// decodeKey reads a key back: length-prefixed fields ("3:abc") and counted lists ("2#…").
func decodeKey(key string) (question, bool) {
	q := question{Extra: map[string][]string{}}
	field := func() (string, bool) {
		i := strings.IndexByte(key, ':')
		if i < 0 {
			return "", false
		}
		n, err := strconv.Atoi(key[:i])
		if err != nil || n < 0 || n > len(key)-i-1 {
			return "", false
		}
		s := key[i+1 : i+1+n]
		key = key[i+1+n:]
		return s, true
	}
	count := func() (int, bool) {
		i := strings.IndexByte(key, '#')
		if i < 0 {
			return 0, false
		}
		n, err := strconv.Atoi(key[:i])
		if err != nil || n < 0 {
			return 0, false
		}
		key = key[i+1:]
		return n, true
	}
	list := func() ([]string, bool) {
		n, ok := count()
		out := []string{}
		for ; ok && n > 0; n-- {
			var s string
			s, ok = field()
			out = append(out, s)
		}
		return out, ok
	}
	var ok1, ok2, ok3 bool
	q.Name, ok1 = field()
	q.UID, ok2 = field()
	q.Groups, ok3 = list()
	if !ok1 || !ok2 || !ok3 {
		return q, false
	}
	n, ok := count()
	for ; ok && n > 0; n-- {
		var k string
		if k, ok = field(); ok {
			q.Extra[k], ok = list()
		}
	}
	var ok4, ok5 bool
	q.Verb, ok4 = field()
	q.Path, ok5 = field()
	return q, ok && ok4 && ok5 && key == ""
}
