// Other shops form: searchable country picker, currency that follows the country.
(function () {
  "use strict";
})();
