// Keras import tests land with the Keras import issue.
