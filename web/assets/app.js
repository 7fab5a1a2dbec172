/* app.js - the dashboard: login, reads through the trusted GraphQL documents, live updates. */
"use strict";
