// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// Where new text goes and how far it is indented. Columns here count from 0 (yaml.v3's from 1). A key's
// column is that of its mapping's keys, which on a "- key:" line is right of the dash, not the line's
// indentation; a block sequence's is that of its dashes, which files put at their key's column
// (kubebuilder) or deeper (indented sequences). Both are read from the parsed nodes, never from the
// leading spaces of a line.

// lineText returns line (1-based) with its newline.
func (c *Container) lineText(line int) string {
	if line > len(c.lines) {
		return ""
	}
	return string(edit.LineAt(c.src, c.lines[line-1]))
}

// lineEnd returns the offset after line, its newline included.
func (c *Container) lineEnd(line int) int { return c.lines[line-1] + len(c.lineText(line)) }

func indentation(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func isFlow(n *yamlv3.Node) bool { return n.Style&yamlv3.FlowStyle != 0 }

// itemLine returns the line holding the dash of item, an entry of the block sequence seq: the item's own
// line, or one above when the dash stands alone.
func (c *Container) itemLine(seq, item *yamlv3.Node) (int, error) {
	dash := seq.Column - 1
	for line := item.Line; line >= seq.Line; line-- {
		text := c.lineText(line)
		if len(text) > dash && text[dash] == '-' && indentation(text) == dash {
			return line, nil
		}
	}
	return 0, &edit.PositionError{File: c.Path, Line: item.Line, Expected: "a \"- \" at column " + strconv.Itoa(seq.Column), Found: "none"}
}

// itemSpan returns the bytes of an item of the block sequence seq: its dash line and the lines below
// indented deeper than the dash.
func (c *Container) itemSpan(seq, item *yamlv3.Node) (start, end int, err error) {
	line, err := c.itemLine(seq, item)
	if err != nil {
		return 0, 0, err
	}
	return c.lines[line-1], c.blockEnd(line, seq.Column-1), nil
}

// blockEnd returns the offset after line and the lines below it indented deeper than col. Blank lines
// count only when more of the block follows, so the blank line separating it from the next stays put; so
// do comment lines no deeper than col, whose indentation means nothing to YAML: a value may follow them
// (a deeper line starting with # may be text of a block scalar, and is the block's).
func (c *Container) blockEnd(line, col int) int {
	end := c.lineEnd(line)
	for l := line + 1; l <= len(c.lines) && c.lines[l-1] < len(c.src); l++ {
		text := c.lineText(l)
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") && indentation(text) <= col {
			continue
		}
		if indentation(text) <= col {
			break
		}
		end = c.lineEnd(l)
	}
	return end
}

// entryEnd returns the offset after the entry k: v of a block mapping. A block sequence's items may sit at
// the key's own column, so its extent is that of its last item.
func (c *Container) entryEnd(k, v *yamlv3.Node) (int, error) {
	if v.Kind == yamlv3.SequenceNode && !isFlow(v) && len(v.Content) > 0 {
		_, end, err := c.itemSpan(v, v.Content[len(v.Content)-1])
		return end, err
	}
	line := k.Line
	if v.Kind == yamlv3.ScalarNode && (v.Style&(yamlv3.DoubleQuotedStyle|yamlv3.SingleQuotedStyle)) != 0 {
		// A quoted scalar's continuation lines may sit at any indentation (`name: "` then `"` at column
		// 0): the entry ends on the line of its closing quote, not at the first line indented less.
		line = c.quotedEndLine(v)
	}
	return c.blockEnd(line, k.Column-1), nil
}

// quotedEndLine returns the line of the closing quote of the quoted scalar v.
func (c *Container) quotedEndLine(v *yamlv3.Node) int {
	start := c.offset(v)
	if start >= len(c.src) {
		return v.Line
	}
	quote := c.src[start]
	for i := start + 1; i < len(c.src); i++ {
		switch {
		case quote == '"' && c.src[i] == '\\':
			i++ // an escape: the next byte is never the closing quote
		case c.src[i] == quote && quote == '\'' && i+1 < len(c.src) && c.src[i+1] == '\'':
			i++ // '' is a quote inside a single-quoted scalar
		case c.src[i] == quote:
			return v.Line + strings.Count(string(c.src[start:i]), "\n")
		}
	}
	return v.Line
}

// anchor places a new key of the container just before or after an existing one.
type anchor struct {
	key   string
	after bool
}

// newKeyAt returns the offset of the first anchor the container has. "Before" needs the key on a line of
// its own: before a "- key:" line the new key would land in the previous item.
func (c *Container) newKeyAt(anchors ...anchor) (int, error) {
	for _, a := range anchors {
		i := keyIndex(c.node, a.key)
		if i < 0 {
			continue
		}
		k, v := c.node.Content[i], c.node.Content[i+1]
		if a.after {
			return c.entryEnd(k, v)
		}
		if text := c.lineText(k.Line); indentation(text) == k.Column-1 {
			return c.lines[k.Line-1], nil
		}
	}
	var keys []string
	for _, a := range anchors {
		if k := a.key + ":"; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return 0, &edit.PositionError{File: c.Path, Line: c.node.Line, Expected: "an " + orList(keys) + " field in container " + c.Name, Found: "none"}
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// itemsFirst orders insertions at one offset so that sequence items come before new keys: items under a
// key without a value go right below it, and a new key inserted at the same place (before the next key,
// or after that empty entry) would otherwise take them as its own.
func itemsFirst(edits []edit.Edit) []edit.Edit {
	isItems := func(e edit.Edit) bool {
		return e.Start == e.End && strings.HasPrefix(strings.TrimLeft(e.Text, "\n "), "-")
	}
	slices.SortStableFunc(edits, func(a, b edit.Edit) int {
		if a.Start != b.Start || a.End != b.End || isItems(a) == isItems(b) {
			return cmp.Compare(a.Start, b.Start)*2 + cmp.Compare(a.End, b.End)
		}
		if isItems(a) {
			return -1
		}
		return 1
	})
	return edits
}

// endLines makes what edits insert at the end of a file without a final newline start a line of its
// own, unless an edit ending there already leaves a line start.
func endLines(src []byte, edits []edit.Edit) []edit.Edit {
	n := len(src)
	if n == 0 || src[n-1] == '\n' {
		return edits
	}
	for _, e := range edits {
		if e.Start < e.End && e.End == n && (strings.HasSuffix(e.Text, "\n") || e.Text == "" && (e.Start == 0 || src[e.Start-1] == '\n')) {
			return edits
		}
	}
	for i, e := range edits {
		if e.Start == n && e.End == n {
			edits[i].Text = "\n" + e.Text
			break
		}
	}
	return edits
}

// editable says why the container's own mapping cannot take new lines: not a mapping, or one in flow
// style.
func (c *Container) editable() error {
	if c.node.Kind != yamlv3.MappingNode {
		return &edit.PositionError{File: c.Path, Line: c.node.Line, Expected: "container " + c.Name + " as a mapping", Found: strconv.Quote(c.node.Value)}
	}
	if isFlow(c.node) {
		return &edit.PositionError{File: c.Path, Line: c.node.Line, Expected: "container " + c.Name + " as a block mapping (one key a line)", Found: "a flow mapping {...}"}
	}
	// A tag or an anchor before the mapping puts its position where they are, not where its keys are.
	if c.node.Tag != "!!map" || c.node.Anchor != "" {
		found := c.node.Tag
		if c.node.Anchor != "" {
			found = "&" + c.node.Anchor
		}
		return &edit.PositionError{File: c.Path, Line: c.node.Line, Expected: "container " + c.Name + " as a mapping without a tag or anchor", Found: found}
	}
	return nil
}

// blockSeq returns the entry key of the container and its block sequence, nil when the key is absent
// or has an empty value. A flow sequence, an explicit null or a scalar is an error: new lines cannot
// extend them.
func (c *Container) blockSeq(key string) (k, seq *yamlv3.Node, err error) {
	if err := c.editable(); err != nil {
		return nil, nil, err
	}
	i := keyIndex(c.node, key)
	if i < 0 {
		return nil, nil, nil
	}
	k, v := c.node.Content[i], c.node.Content[i+1]
	switch {
	case v.Kind == yamlv3.SequenceNode && !isFlow(v):
		return k, v, nil
	case v.Kind == yamlv3.ScalarNode && v.Tag == "!!null" && v.Value == "":
		return k, nil, nil
	case v.Kind == yamlv3.SequenceNode && len(v.Content) == 0 && c.emptyFlow(k, v):
		return k, nil, nil // "ports: []", which underKey replaces
	case v.Kind == yamlv3.SequenceNode:
		return nil, nil, &edit.PositionError{File: c.Path, Line: v.Line, Expected: key + " of container " + c.Name + " as a block sequence (one \"- \" item a line)", Found: "a flow sequence [...]"}
	}
	return nil, nil, &edit.PositionError{File: c.Path, Line: v.Line, Expected: key + " of container " + c.Name + " as a sequence", Found: strconv.Quote(v.Value)}
}

// seqIndent returns how far right of its key the file puts a block sequence's dash: as the container's
// own sequences do, else the document's; 0, kubebuilder's style, when it has none.
func (c *Container) seqIndent() int {
	for _, n := range []*yamlv3.Node{c.node, c.doc} {
		if i, ok := firstSeqIndent(n); ok {
			return i
		}
	}
	return 0
}

// firstSeqIndent looks for a block sequence under a block mapping key, the mapping's own entries first.
func firstSeqIndent(n *yamlv3.Node) (int, bool) {
	if n == nil {
		return 0, false
	}
	if n.Kind == yamlv3.MappingNode && !isFlow(n) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; v.Kind == yamlv3.SequenceNode && !isFlow(v) && len(v.Content) > 0 {
				return v.Column - k.Column, true
			}
		}
	}
	for _, child := range n.Content {
		if i, ok := firstSeqIndent(child); ok {
			return i, true
		}
	}
	return 0, false
}

// gap returns the columns from an item's dash to its content, as in the containers list ("- " or "-   "),
// else as the first item the container, then the document, shows; kubebuilder's when none shows one.
func (c *Container) gap() int {
	if g, ok := c.shownGap(c.seq, c.node); ok {
		return g
	}
	for _, n := range []*yamlv3.Node{c.node, c.doc} {
		if g, ok := c.firstGap(n); ok {
			return g
		}
	}
	return 2
}

// firstGap looks for an item showing its gap in the block sequences under n.
func (c *Container) firstGap(n *yamlv3.Node) (int, bool) {
	if n == nil {
		return 0, false
	}
	if n.Kind == yamlv3.SequenceNode && !isFlow(n) {
		for _, item := range n.Content {
			if g, ok := c.shownGap(n, item); ok {
				return g, true
			}
		}
	}
	for _, child := range n.Content {
		if g, ok := c.firstGap(child); ok {
			return g, true
		}
	}
	return 0, false
}

// itemGap is the gap of item, an entry of seq, or the container's when it shows none.
func (c *Container) itemGap(seq, item *yamlv3.Node) int {
	if g, ok := c.shownGap(seq, item); ok {
		return g
	}
	return c.gap()
}

// shownGap is the gap item shows: an item below a lone dash, or an empty one, shows none.
func (c *Container) shownGap(seq, item *yamlv3.Node) (int, bool) {
	if seq == nil || item.Kind == yamlv3.ScalarNode && item.Tag == "!!null" && item.Value == "" {
		return 0, false
	}
	if text := c.lineText(item.Line); len(text) < seq.Column || text[seq.Column-1] != '-' {
		return 0, false
	}
	return max(item.Column-seq.Column, 2), true
}

// items writes sequence items with the dash at column dash, each item's lines gap columns right of it.
func items(dash, gap int, entries [][]string) string {
	var b strings.Builder
	for _, lines := range entries {
		for i, l := range lines {
			if i == 0 {
				b.WriteString(strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", gap-1) + l + "\n")
			} else {
				b.WriteString(strings.Repeat(" ", dash+gap) + l + "\n")
			}
		}
	}
	return b.String()
}

// newSeq writes key at column col, followed by a block sequence of entries laid out as the file's.
func (c *Container) newSeq(col int, key string, entries [][]string) string {
	return strings.Repeat(" ", col) + key + ":\n" + c.seqItems(col, entries)
}

// seqItems writes the items of a sequence whose key is at column col, in the file's style.
func (c *Container) seqItems(col int, entries [][]string) string {
	return items(col+c.seqIndent(), c.gap(), entries)
}

// appendItems returns the edit adding entries after the last item of the block sequence seq, with its
// items' dash column and gap.
func (c *Container) appendItems(seq *yamlv3.Node, entries [][]string) (edit.Edit, error) {
	last := seq.Content[len(seq.Content)-1]
	_, end, err := c.itemSpan(seq, last)
	if err != nil {
		return edit.Edit{}, err
	}
	return edit.Insert(end, items(seq.Column-1, c.itemGap(seq, last), entries)), nil
}

// keyCol returns the column of the container's keys.
func (c *Container) keyCol() int { return c.node.Column - 1 }

func keyIndex(n *yamlv3.Node, key string) int {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// emptyFlow says whether v, the value of key k, is "[]" alone at the end of the key's line.
func (c *Container) emptyFlow(k, v *yamlv3.Node) bool {
	if !isFlow(v) || v.Line != k.Line {
		return false
	}
	rest := strings.TrimSpace(string(c.src[c.offset(v):c.lineEnd(k.Line)]))
	return rest == "[]"
}

// underKey returns the edit putting items (a block sequence's lines) under key k: after its line, or in
// place of an empty flow sequence ("ports: []") on it.
func (c *Container) underKey(k *yamlv3.Node, items string) edit.Edit {
	if v := walk(c.node, k.Value); v != nil && v.Kind == yamlv3.SequenceNode && len(v.Content) == 0 && c.emptyFlow(k, v) {
		// The whole line is rewritten ("ports: []" becomes "ports:" and the items below), so that the edit,
		// like every other, replaces whole lines.
		start, colon := c.lines[k.Line-1], c.offset(k)+len(quoteLike(k.Value, k.Style))+1
		return edit.Edit{Start: start, End: c.lineEnd(k.Line), Text: string(c.src[start:colon]) + "\n" + items}
	}
	return edit.Insert(c.lineEnd(k.Line), items)
}
