import '../../local/promise-with-resolvers.js';
