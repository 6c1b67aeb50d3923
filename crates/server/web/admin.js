// The admin screens (being written).
import { start } from "/web/app.js";
await start("Admin", ["supervisor", "admin"]);
