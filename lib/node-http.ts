// node:http without its ES module facade. `import http from 'node:http'` in an
// ES module makes Node read every export to build the facade, and node:http's
// lazy WebSocket exports then load undici (Node 22+): about 50 ms of start-up
// in the master and in every worker, measured. process.getBuiltinModule()
// returns the CommonJS module as it is, and undici stays unloaded.
export const http = process.getBuiltinModule('node:http');
