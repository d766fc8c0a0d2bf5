// Same-origin copy of htmx when the CDN file did not load (offline intranet, blocked CDN).
// document.write keeps the script synchronous, so htmx still initialises on DOMContentLoaded;
// an appended <script> element would run too late for htmx 2 to start.
if (!window.htmx) {
  document.write('<script src="/static/vendor/htmx-2.0.11.min.js"><\/script>');
}
