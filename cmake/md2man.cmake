# md2man.cmake - turns a manual page written in a small subset of Markdown
# (docs/man/*.md, readable as they are on a repository's web page) into
# roff with the man(7) macros, at build time, with nothing but CMake:
#
#   cmake -DIN=page.md -DOUT=page.N -DSOURCE="libmp 1.2.3" -P md2man.cmake
#
# The subset, and what each part becomes:
#   # name(N) -- summary     first line: .TH and the NAME section
#   ## TITLE                 .SH TITLE (a section)
#   ### Title                .SS Title (a subsection)
#   text lines               a paragraph (.PP); a blank line ends it
#   - text                   a bullet (.IP); indented lines continue it
#   - `term`: text           a tagged paragraph (.TP): term, then text
#   - **term**: text         (also `a`, `b`: text for several terms)
#   ``` ... ```              a literal block, indented (.nf)
#   `code`, **bold**         bold; *word* italic; [text](link) is text
# Anything else (a table, a numbered list, raw HTML) stops the build with
# the line it cannot convert, so a page never renders half-converted.
# Characters outside ASCII must be among the few mapped below to groff's
# named glyphs, for the same reason.

if(NOT SOURCE)
  set(SOURCE "libmp")
endif()
if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DIN=page.md -DOUT=page.N [-DSOURCE=...] -P md2man.cmake")
endif()

# CMake lists split on ';' and balance '[' ']': keep those characters out
# of the way while the text travels as a list of lines.
set(_semi "@MD2MAN_SEMI@")
set(_lbr "@MD2MAN_LBR@")
set(_rbr "@MD2MAN_RBR@")

# Non-ASCII characters the pages may use, and their groff names.
set(_glyphs
  "—=\\(em" "–=\\(en" "→=\\(->" "←=\\(<-" "×=\\(mu" "≥=\\(>=" "≤=\\(<=" "µ=\\(mc"
  "’=\\(cq" "‘=\\(oq" "“=\\(lq" "”=\\(rq" "…=.\\|.\\|." "≈=\\(~~")

set(_lineno 0)
function(md2man_die msg)
  message(FATAL_ERROR "${IN}:${_lineno}: ${msg}")
endfunction()

# Escapes text for roff: backslashes, and the mapped glyphs.
function(md2man_escape text out)
  string(REPLACE "\\" "\\e" text "${text}")
  foreach(g ${_glyphs})
    string(FIND "${g}" "=" _eq)
    string(SUBSTRING "${g}" 0 ${_eq} _from)
    math(EXPR _eq "${_eq} + 1")
    string(SUBSTRING "${g}" ${_eq} -1 _to)
    string(REPLACE "${_from}" "${_to}" text "${text}")
  endforeach()
  if(text MATCHES "[^\t -~]")
    md2man_die("a character outside ASCII that md2man.cmake does not map: ${text}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Literal text (code spans and blocks) escaped, after md2man_escape, so
# what a reader copies from the page is what was written: ASCII minus,
# quote, tilde and caret, not groff's typographic glyphs.
function(md2man_literal text out)
  string(REPLACE "-" "\\-" text "${text}")
  string(REPLACE "'" "\\(aq" text "${text}")
  string(REPLACE "~" "\\(ti" text "${text}")
  string(REPLACE "^" "\\(ha" text "${text}")
  string(REPLACE "`" "\\(ga" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Inline markup of one line of text: code spans first (their contents are
# literal, see md2man_literal), then links,
# bold and italic outside them.
function(md2man_inline text out)
  md2man_escape("${text}" text)
  set(_codes)
  set(_n 0)
  while(text MATCHES "`([^`]*)`")
    md2man_literal("${CMAKE_MATCH_1}" _code)
    # A code span is one word: its spaces neither stretch nor break.
    string(REPLACE " " "\\ " _code "${_code}")
    list(APPEND _codes "\\fB${_code}\\fR")
    string(FIND "${text}" "`${CMAKE_MATCH_1}`" _at)
    string(LENGTH "`${CMAKE_MATCH_1}`" _len)
    string(SUBSTRING "${text}" 0 ${_at} _head)
    math(EXPR _at "${_at} + ${_len}")
    string(SUBSTRING "${text}" ${_at} -1 _tail)
    set(text "${_head}@MD2MAN_CODE${_n}@${_tail}")
    math(EXPR _n "${_n} + 1")
  endwhile()
  if(text MATCHES "`")
    md2man_die("an unclosed code span")
  endif()
  string(REGEX REPLACE "${_lbr}([^@]*)${_rbr}\\(([^)]*)\\)" "\\1" text "${text}")
  string(REGEX REPLACE "\\*\\*([^*]+)\\*\\*" "\\\\fB\\1\\\\fR" text "${text}")
  string(REGEX REPLACE "(^|[^A-Za-z0-9*])\\*([^* ][^*]*)\\*" "\\1\\\\fI\\2\\\\fR" text "${text}")
  set(_i 0)
  foreach(c IN LISTS _codes)
    string(REPLACE "@MD2MAN_CODE${_i}@" "${c}" text "${text}")
    math(EXPR _i "${_i} + 1")
  endforeach()
  # A text line starting with a control character would be read as a
  # request.
  if(text MATCHES "^[.']")
    set(text "\\&${text}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

file(READ "${IN}" _md)
string(REPLACE ";" "${_semi}" _md "${_md}")
string(REPLACE "[" "${_lbr}" _md "${_md}")
string(REPLACE "]" "${_rbr}" _md "${_md}")
string(REPLACE "\n" ";" _lines "${_md}")

set(_roff)
set(_state "start") # start, text, item, code
foreach(line IN LISTS _lines)
  math(EXPR _lineno "${_lineno} + 1")
  if(_state STREQUAL "code")
    if(line MATCHES "^```")
      list(APPEND _roff ".fi" ".RE")
      set(_state "text_end")
    else()
      md2man_escape("${line}" line)
      md2man_literal("${line}" line)
      if(line MATCHES "^[.']")
        set(line "\\&${line}")
      endif()
      list(APPEND _roff "${line}")
    endif()
    continue()
  endif()
  if(_lineno EQUAL 1)
    if(NOT line MATCHES "^# ([A-Za-z0-9_.-]+)\\(([0-9a-z]+)\\) -- (.+)$")
      md2man_die("the first line must be '# name(section) -- summary'")
    endif()
    set(_name "${CMAKE_MATCH_1}")
    set(_section "${CMAKE_MATCH_2}")
    md2man_inline("${CMAKE_MATCH_3}" _summary)
    string(TOUPPER "${_name}" _upper)
    # Left-aligned and not hyphenated: code words and option names stay
    # whole and copyable.
    list(APPEND _roff ".TH ${_upper} ${_section} \"\" \"${SOURCE}\" \"libmp manual\""
      ".ad l" ".nh" ".SH NAME" "${_name} \\- ${_summary}")
    set(_state "start")
    continue()
  endif()
  if(line STREQUAL "")
    set(_state "start")
    continue()
  endif()
  if(line MATCHES "^## (.+)$")
    string(TOUPPER "${CMAKE_MATCH_1}" _t)
    md2man_escape("${_t}" _t)
    list(APPEND _roff ".SH \"${_t}\"")
    set(_state "heading")
  elseif(line MATCHES "^### (.+)$")
    md2man_inline("${CMAKE_MATCH_1}" _t)
    list(APPEND _roff ".SS \"${_t}\"")
    set(_state "heading")
  elseif(line MATCHES "^```")
    list(APPEND _roff ".PP" ".RS 4" ".nf")
    set(_state "code")
  elseif(line MATCHES "^- (.*)$")
    set(_item "${CMAKE_MATCH_1}")
    # A tagged item: one or more `terms` (or one **term**), a colon, text.
    if(_item MATCHES "^((`[^`]+`(, `[^`]+`)*)|(\\*\\*[^*]+\\*\\*)): (.*)$")
      md2man_inline("${CMAKE_MATCH_1}" _term)
      md2man_inline("${CMAKE_MATCH_5}" _text)
      list(APPEND _roff ".TP" "${_term}" "${_text}")
    else()
      md2man_inline("${_item}" _text)
      list(APPEND _roff ".IP \\(bu 2" "${_text}")
    endif()
    set(_state "item")
  elseif(line MATCHES "^(\\||<|[0-9]+\\. |\\* |#)")
    md2man_die("not in the subset md2man.cmake converts: ${line}")
  elseif(line MATCHES "^  +(.*)$" AND _state STREQUAL "item")
    md2man_inline("${CMAKE_MATCH_1}" _text)
    list(APPEND _roff "${_text}")
  elseif(line MATCHES "^ ")
    md2man_die("an indented line outside a list item (use ``` for literal text)")
  else()
    if(NOT _state STREQUAL "text")
      list(APPEND _roff ".PP")
    endif()
    md2man_inline("${line}" _text)
    list(APPEND _roff "${_text}")
    set(_state "text")
  endif()
endforeach()
if(_state STREQUAL "code")
  md2man_die("an unclosed ``` block")
endif()

string(REPLACE ";" "\n" _out "${_roff}")
string(REPLACE "${_semi}" ";" _out "${_out}")
string(REPLACE "${_lbr}" "[" _out "${_out}")
string(REPLACE "${_rbr}" "]" _out "${_out}")
# Write only when changed, so pages that did not change are not rebuilt
# into fresh timestamps.
set(_new ".\\\" generated by cmake/md2man.cmake from ${_name}.${_section}.md; do not edit\n${_out}\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" _old)
  if(_old STREQUAL _new)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${_new}")
