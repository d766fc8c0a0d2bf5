// The shop list as a workspace: new rows, bulk actions, focus after swaps, announcements.
(function () {
  "use strict";
})();
