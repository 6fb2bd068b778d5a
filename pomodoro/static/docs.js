// The interactive API page: Swagger UI, reading our own OpenAPI document.
const mount = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: mount.dataset.specUrl,
  domNode: mount,
  deepLinking: true,
  persistAuthorization: true,
});
