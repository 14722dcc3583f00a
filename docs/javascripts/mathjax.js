// MathJax 3 settings for pymdownx.arithmatex (generic mode): it wraps every formula of the pages
// in an element of class "arithmatex" with \( \) or \[ \] delimiters; MathJax typesets only those.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};
