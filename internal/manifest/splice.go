package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// planSplice returns the byte range of doc that holds the app.image token and what to put
// there instead to make the image image.
func planSplice(doc []byte, site location, image string) (start, end int, tok string, err error) {
	if site.values == nil {
		start, end, style, err := tokenAt(doc, site.image)
		if err != nil {
			return 0, 0, "", err
		}
		return start, end, encode(image, style), nil
	}
	inner := []byte(site.values.Value)
	a, b, style, err := tokenAt(inner, site.image)
	if err != nil {
		return 0, 0, "", fmt.Errorf("in the values string: %w", err)
	}
	return outerSplice(doc, site.values, inner, a, b, encode(image, style))
}

// tokenAt returns the byte range of the single-line scalar n in text, and its style.
func tokenAt(text []byte, n *yaml.Node) (start, end int, style yaml.Style, err error) {
	style = n.Style &^ yaml.TaggedStyle
	if style == 0 && n.Value == "" {
		// Only a tag makes an empty plain value a string; there is no token to replace.
		return 0, 0, 0, errors.New("app.image is an empty plain value (!!str with nothing after it); write a value first")
	}
	off, err := nodeOffset(text, n)
	if err != nil {
		return 0, 0, 0, err
	}
	switch style {
	case 0:
		// A single-line plain scalar is its own text; a multi-line one differs from its
		// folded value at its first line break, so this also refuses those.
		if !bytes.HasPrefix(text[off:], []byte(n.Value)) {
			if strings.ContainsAny(n.Value, " \n") {
				return 0, 0, 0, errors.New("app.image must be written on one line")
			}
			return 0, 0, 0, mismatch("plain value not found where the parser put it")
		}
		return off, off + len(n.Value), style, nil
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		_, _, end, err := unquote(text, off)
		if err != nil {
			return 0, 0, 0, err
		}
		return off, end, style, nil
	default:
		return 0, 0, 0, errors.New("app.image must be a one-line string, not a block scalar")
	}
}

// outerSplice maps the range [a, b) of the helm.values string to the bytes of doc that
// hold it and encodes tok for the way that string is written.
func outerSplice(doc []byte, values *yaml.Node, inner []byte, a, b int, tok string) (start, end int, out string, err error) {
	off, err := nodeOffset(doc, values)
	if err != nil {
		return 0, 0, "", err
	}
	switch values.Style &^ yaml.TaggedStyle {
	case yaml.LiteralStyle:
		if off >= len(doc) || doc[off] != '|' {
			return 0, 0, "", mismatch("literal block indicator not found where the parser put it")
		}
		// Inner line k is doc line header+k with the block's indentation in front, whatever
		// that indentation is (auto-detected or |N): take it from the raw line.
		innerStarts := lineStarts(inner)
		k := lineOf(innerStarts, a)
		if lineOf(innerStarts, b) != k {
			return 0, 0, "", mismatch("app.image spans lines of the values string")
		}
		innerLine := inner[innerStarts[k]:lineEnd(inner, innerStarts, k)]
		docStarts := lineStarts(doc)
		l := lineOf(docStarts, off) + 1 + k
		if l >= len(docStarts) {
			return 0, 0, "", mismatch("cannot find the values block's lines")
		}
		docLine := doc[docStarts[l]:lineEnd(doc, docStarts, l)]
		indent := len(docLine) - len(innerLine)
		if indent < 0 || !bytes.Equal(docLine[indent:], innerLine) || strings.Trim(string(docLine[:indent]), " ") != "" {
			return 0, 0, "", mismatch("cannot match the values block's lines with its content")
		}
		base := docStarts[l] + indent - innerStarts[k]
		return base + a, base + b, tok, nil
	case 0:
		if !bytes.HasPrefix(doc[off:], []byte(values.Value)) {
			return 0, 0, "", errors.New("a plain helm.values string must be written on one line")
		}
		return off + a, off + b, tok, nil
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		decoded, at, _, err := unquote(doc, off)
		if err != nil {
			return 0, 0, "", fmt.Errorf("helm.values: %w", err)
		}
		if string(decoded) != values.Value || at[a] < 0 || at[b] < 0 {
			return 0, 0, "", mismatch("cannot map the image inside the quoted helm.values string")
		}
		if doc[off] == '\'' {
			return at[a], at[b], strings.ReplaceAll(tok, "'", "''"), nil
		}
		return at[a], at[b], escapeDouble(tok), nil
	default:
		return 0, 0, "", errors.New("helm.values written as a folded (>) block cannot be edited in place; use a literal (|) block")
	}
}

// nodeOffset returns the byte offset in text where n's own token starts.
func nodeOffset(text []byte, n *yaml.Node) (int, error) {
	off, err := offsetOf(text, n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	if n.Anchor == "" && n.Style&yaml.TaggedStyle == 0 {
		return off, nil
	}
	// yaml.v3 places a node at its first property (&anchor, !tag): skip those.
	for off < len(text) {
		switch c := text[off]; {
		case c == '&' || c == '!':
			for off < len(text) && text[off] != ' ' && text[off] != '\t' && lineBreak(text, off) == 0 {
				off++
			}
		case c == ' ' || c == '\t':
			off++
		case lineBreak(text, off) > 0:
			off += lineBreak(text, off)
		default:
			if c == '#' {
				return 0, errors.New("cannot edit a value separated from its tag or anchor by a comment")
			}
			return off, nil
		}
	}
	return 0, mismatch("value not found after its tag or anchor")
}

// offsetOf converts yaml.v3's 1-based line and column (counted in characters) to a
// byte offset in text.
func offsetOf(text []byte, line, col int) (int, error) {
	starts := lineStarts(text)
	if line < 1 || line > len(starts) || col < 1 {
		return 0, mismatch("position %d:%d is outside the document", line, col)
	}
	off := starts[line-1]
	if line == 1 && bytes.HasPrefix(text, []byte("\ufeff")) {
		off = 3 // yaml.v3 drops a leading byte order mark before counting
	}
	for c := 1; c < col; c++ {
		if off >= len(text) || lineBreak(text, off) > 0 {
			return 0, mismatch("position %d:%d is outside the document", line, col)
		}
		_, w := utf8.DecodeRune(text[off:])
		off += w
	}
	return off, nil
}

// lineBreak returns the length of the line break at text[i], or 0. These are the breaks
// yaml.v3 counts lines by: CRLF, CR, LF, NEL, LS and PS.
func lineBreak(text []byte, i int) int {
	switch {
	case i >= len(text):
		return 0
	case text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n':
		return 2
	case text[i] == '\r' || text[i] == '\n':
		return 1
	case bytes.HasPrefix(text[i:], []byte("\u0085")):
		return 2
	case bytes.HasPrefix(text[i:], []byte("\u2028")), bytes.HasPrefix(text[i:], []byte("\u2029")):
		return 3
	}
	return 0
}

// lineStarts returns the byte offset of the start of each line of text.
func lineStarts(text []byte) []int {
	starts := []int{0}
	for i := 0; i < len(text); {
		if w := lineBreak(text, i); w > 0 {
			i += w
			starts = append(starts, i)
		} else {
			i++
		}
	}
	return starts
}

// lineOf returns the index of the line holding byte offset off.
func lineOf(starts []int, off int) int {
	k := 0
	for k+1 < len(starts) && starts[k+1] <= off {
		k++
	}
	return k
}

// lineEnd returns the offset of the end of line k of text, before its line break.
func lineEnd(text []byte, starts []int, k int) int {
	end := len(text)
	if k+1 < len(starts) {
		end = starts[k+1]
	}
	for i := starts[k]; i < end; i++ {
		if lineBreak(text, i) > 0 {
			return i
		}
	}
	return end
}
