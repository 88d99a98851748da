// Highlights the words of a search query in a message, the way the server matches them:
// case- and accent-insensitive words, `word*` prefixes and "quoted phrases"; filters
// (from:, before:, after:) match no text. Builds DOM nodes only — never HTML strings — so
// a message's text can never become markup.
'use strict';

(function () {
  // Han and kana are written without spaces: the server takes each such character as a
  // word of its own (as its Tokenizer's ranges say), so a word of other letters ends where
  // one begins, and a query word written in them is a phrase of single characters. So is
  // each emoji (what Unicode calls one, beyond ASCII's keycap bases; a flag is two regional
  // letters; a skin tone folds away), but emoji are never words of a phrase: the server
  // matches a phrase's words across them, and each emoji of a query anywhere.
  const UNIGRAM = '[\\u3005-\\u3007\\u3040-\\u30FF\\u31F0-\\u31FF\\u3400-\\u4DBF\\u4E00-\\u9FFF\\uF900-\\uFAFF\\uFF66-\\uFF9F\\u{20000}-\\u{3FFFF}]';
  const EMOJI = '(?:\\p{Regional_Indicator}{1,2}|(?![\\p{ASCII}\\p{Emoji_Modifier}\\p{Regional_Indicator}])\\p{Emoji})';
  const WORD_CHAR = `(?:(?!${UNIGRAM})[\\p{L}\\p{N}])`;
  const UNIGRAM_CHAR = `(?:(?=[\\p{L}\\p{N}])${UNIGRAM}|${EMOJI})`;
  const GAP = '[^\\p{L}\\p{N}]';
  const FILTER = /^(from|before|after):/i;

  /**
   * One code point folded for matching: decomposed to its compatibility form (full-width
   * letters, half-width kana, `Ⅻ` as `XII`, as the server folds them), marks (variation
   * selectors among them) and skin tones dropped, lower-cased.
   */
  function foldCodePoint(cp) {
    if (/\p{Emoji_Modifier}/u.test(cp)) return '';
    // Before decomposing: the server takes `™` or `㊗` as the emoji, not as `tm` or `祝`.
    if (isEmoji(cp)) return cp;
    return cp.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  }

  function fold(text) {
    let out = '';
    for (const cp of text) out += foldCodePoint(cp);
    return out;
  }

  /**
   * The folded text and, for each of its UTF-16 units, where the code point it came from
   * starts and ends in the original text (folding can change lengths: "é" → "e"). A code
   * point that folds to nothing (a mark on its own, such as the half-width voiced mark in
   * "ｶﾞ") belongs to the one before it: a match that ends there takes it in.
   */
  function foldWithMap(text) {
    let folded = '';
    const starts = [];
    const ends = [];
    let offset = 0;
    let previous = 0; // where the units of the last code point that folded to any begin
    for (const cp of text) {
      const f = foldCodePoint(cp);
      if (!f.length) {
        for (let i = previous; i < ends.length; i++) ends[i] = offset + cp.length;
      } else {
        previous = ends.length;
      }
      for (let i = 0; i < f.length; i++) {
        starts.push(offset);
        ends.push(offset + cp.length);
      }
      folded += f;
      offset += cp.length;
    }
    return { folded, starts, ends };
  }

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  function words(s) {
    const split = new RegExp(`${UNIGRAM_CHAR}|${WORD_CHAR}+`, 'gu');
    return fold(s).match(split) || [];
  }

  const isUnigram = (part) => new RegExp(`^${UNIGRAM_CHAR}$`, 'u').test(part);
  function isEmoji(part) {
    return new RegExp(`^${EMOJI}$`, 'u').test(part);
  }
  const isWordChar = (cp) => new RegExp(`^${WORD_CHAR}$`, 'u').test(cp);

  /**
   * A pattern for words next to each other, in order, as whole words (the last one a prefix
   * with `prefix`): its RegExp `source`, and whether a match must not follow a letter or
   * digit (`bounded`), which ranges() checks: a lookbehind would say so in the pattern, but
   * Safari before 16.4 cannot build one. Single Han or kana characters need no boundary.
   */
  function phrase(parts, prefix) {
    const source = parts.map((part, index) => {
      const unigram = isUnigram(part);
      let source = '';
      if (index > 0) source += unigram || isUnigram(parts[index - 1]) ? `${GAP}*` : `${GAP}+`;
      source += escapeRegExp(part);
      if (index === parts.length - 1 && !unigram) source += prefix ? `${WORD_CHAR}*` : `(?!${WORD_CHAR})`;
      return source;
    }).join('');
    return { source, bounded: !isUnigram(parts[0]) };
  }

  /** The patterns (see phrase) a query highlights, over folded text. */
  function patterns(query) {
    const result = [];
    const tokens = query.match(/"[^"]*"?|\S+/g) || [];
    for (const token of tokens) {
      const quoted = token.startsWith('"');
      if (!quoted && FILTER.test(token)) continue;
      const prefix = !quoted && token.endsWith('*');
      // A word of several (`PLT-3699`, `東京`) is a phrase to the server, too.
      const all = words(quoted ? token.replace(/"/g, '') : prefix ? token.slice(0, -1) : token);
      for (const emoji of all.filter(isEmoji)) result.push(phrase([emoji], false));
      const parts = all.filter((part) => !isEmoji(part));
      if (parts.length) result.push(phrase(parts, prefix && !isEmoji(all[all.length - 1])));
    }
    return result;
  }

  /** Ranges [start, end) of `text` that match, merged and sorted. */
  function ranges(text, query) {
    const sources = patterns(query);
    if (!sources.length || !text) return [];
    const { folded, starts, ends } = foldWithMap(text);
    const found = [];
    for (const { source, bounded } of sources) {
      const re = new RegExp(source, 'gu');
      let m;
      while ((m = re.exec(folded)) !== null) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        if (bounded && m.index > 0) {
          // Inside a word: try again from the next code point.
          const low = folded.charCodeAt(m.index - 1);
          const before = low >= 0xDC00 && low <= 0xDFFF && m.index > 1 ? folded.slice(m.index - 2, m.index) : folded[m.index - 1];
          if (isWordChar(before)) {
            re.lastIndex = m.index + (folded.codePointAt(m.index) > 0xFFFF ? 2 : 1);
            continue;
          }
        }
        found.push([starts[m.index], ends[m.index + m[0].length - 1]]);
      }
    }
    found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged = [];
    for (const r of found) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    return merged;
  }

  /** A fragment of text nodes with the matches wrapped in <mark>. */
  function fragment(text, query) {
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const [start, end] of ranges(text, query)) {
      if (start > at) frag.appendChild(document.createTextNode(text.slice(at, start)));
      const mark = document.createElement('mark');
      mark.textContent = text.slice(start, end);
      frag.appendChild(mark);
      at = end;
    }
    if (at < text.length) frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }

  window.ChatFlowHighlight = { fold, ranges, fragment };
})();
