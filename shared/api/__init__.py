"""The usage API: routes, parameters and handlers, independent of the Functions host.

Importing the package loads nothing: `shared.api.manifest` must stay cheap for the cold start;
`shared.api.handler` registers every route."""
