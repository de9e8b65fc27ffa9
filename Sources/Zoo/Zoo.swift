// Zoo module
