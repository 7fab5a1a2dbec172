/* charts.js - practice charts (SVG), shared by the dashboard and etude report. */
"use strict";
