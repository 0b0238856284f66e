package shape_test

import (
	"errors"
	"fmt"

	"strongroom/internal/shape"
)

func ExampleValidateJSON() {
	// Once, at start-up: the core limits Encrypt's plaintext itself.
	kms, err := shape.KMS.With(shape.Options{SkipMax: []string{"Encrypt.Plaintext"}})
	if err != nil {
		panic(err)
	}

	err = shape.ValidateJSON(kms, "ListKeys", []byte(`{"Limit":0,"Marker":""}`))
	var e *shape.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code)
		fmt.Println(e.Message)
	}
	// Output:
	// ValidationException
	// 2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1
}

func ExampleValidateQuery() {
	err := shape.ValidateQuery(shape.IAM, "CreateUser", map[string][]string{"Action": {"CreateUser"}, "UserName": {"bad name"}})
	fmt.Println(err.(*shape.Error).Code)
	// Output:
	// ValidationError
}
